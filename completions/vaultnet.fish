complete --keep-order --exclusive --command vaultnet --arguments "(COMPLETE=fish vaultnet -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
