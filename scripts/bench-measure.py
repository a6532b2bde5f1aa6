#!/usr/bin/env python3
"""scripts/bench's measuring half: runs each command in the bench's network
namespace, several times, and records per run its wall time, the peak RSS of
its largest process (wait4's ru_maxrss), the requests OpenBao's file audit
device logged while it ran, and, on the one run traced with strace, its
fsync and fdatasync calls. Results go to a JSON-lines file; `report` turns
them into the tables of BENCHMARKS.md (medians, and ratios run by run).

  bench-measure.py run STORAGE RESULTS   (env: see scripts/bench)
  bench-measure.py report RESULTS
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

def env(k):
    return os.environ[k]

def audit_requests(path, since):
    """Requests (not responses) the audit log got from byte `since` on."""
    n = 0
    with open(path, "rb") as f:
        f.seek(since)
        for line in f:
            if b'"type":"request"' in line:
                n += 1
    return n

def bao_cpu():
    """CPU seconds OpenBao has used so far (user + system)."""
    try:
        with open(f"/proc/{env('BENCH_BAO_PID')}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (KeyError, FileNotFoundError):
        return 0.0

def size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0

def syscalls(strace_out):
    """Calls per syscall from `strace -c` output."""
    calls = {}
    with open(strace_out) as f:
        for line in f:
            parts = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(parts) >= 5 and parts[3].isdigit():
                calls[parts[-1]] = int(parts[3])
    return calls

def run(cmd, *, trace=False, out=None, check=True, netns=True):
    """One run of `cmd` in the namespace: wall s, peak RSS KiB, requests, fsyncs."""
    ns, audit = env("BENCH_NS"), env("BENCH_AUDIT")
    # GNU time reports the peak RSS of the command it forks: a child forked
    # straight from this (large) Python process would carry Python's own
    # peak into its ru_maxrss across exec.
    rss = tempfile.NamedTemporaryFile(prefix="bench-rss-", delete=False).name
    full = ["/usr/bin/time", "-f", "%U %S %M", "-o", rss]
    full += ["ip", "netns", "exec", ns] if netns else []
    st = None
    if trace:
        st = tempfile.NamedTemporaryFile(prefix="bench-strace-", delete=False).name
        full += ["strace", "-f", "-c", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", "-o", st]
    full += cmd
    before = size(audit)
    bao0 = bao_cpu()
    stdout = open(out, "wb") if out else subprocess.DEVNULL
    t = time.perf_counter()
    p = subprocess.Popen(full, stdout=stdout, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, _ = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    bao1 = bao_cpu()
    with open(rss) as f:
        # "Command exited with non-zero status N" may come first.
        user, sys_, peak = f.read().split()[-3:]
    os.unlink(rss)
    if out:
        stdout.close()
    if check and p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {p.returncode}:\n{err.decode(errors='replace')[-2000:]}")
    r = {"wall": wall, "rss_kib": int(peak), "cpu": float(user) + float(sys_),
         "bao_cpu": bao1 - bao0, "requests": audit_requests(audit, before), "rc": p.returncode}
    if st:
        c = syscalls(st)
        r["fsyncs"] = c.get("fsync", 0) + c.get("fdatasync", 0)
        # Every atomic file write ends in a rename.
        r["renames"] = c.get("rename", 0) + c.get("renameat", 0) + c.get("renameat2", 0)
        os.unlink(st)
    return r

def names(path, prefix, n):
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"{prefix}{i}\n")

def logins_ok(report_json, n):
    """doctor --login's JSON report: every tenant's login check ok."""
    with open(report_json) as f:
        doc = json.load(f)
    seen = []
    def walk(c):
        if c.get("id", "").startswith("login.") and not c.get("children"):
            seen.append(c["status"])
        for ch in c.get("children", []):
            walk(ch)
    for c in doc.get("checks", doc if isinstance(doc, list) else []):
        walk(c)
    return seen.count("ok") == n and len(seen) == n

def measure(storage, results):
    bin_, work = env("BENCH_BIN"), env("BENCH_WORK")
    pristine, token = env("BENCH_PRISTINE"), env("BENCH_TOKEN")
    ns_list = [int(x) for x in env("BENCH_N").split()]
    base_ns = [int(x) for x in env("BENCH_BASELINE_N").split()]
    runs = int(env("BENCH_RUNS"))
    base_runs = int(env("BENCH_BASELINE_RUNS"))
    before = os.environ.get("BENCH_BEFORE_BIN")
    other_jobs = os.environ.get("BENCH_JOBS", "1").split()
    out = open(results, "a")
    def rec(**kw):
        kw["storage"] = storage
        out.write(json.dumps(kw) + "\n")
        out.flush()
        print(f"  {storage:6} {kw['what']:15} N={kw['n']:<5} run {kw['run']}: "
              f"{kw['wall']:.3f} s, {kw['requests']} requests"
              + (f", {kw['fsyncs']} fsyncs" if "fsyncs" in kw else "")
              + f", {kw['rss_kib'] // 1024} MiB", file=sys.stderr, flush=True)
    vn = lambda st, *a: [bin_, "--dir", st, *a]
    # Start-up, outside the namespace (`ip netns exec` costs a few ms of
    # its own): a command that only parses its flags, and one that loads
    # an empty site's state.
    for r in range(1, 21):
        rec(what="startup", n=0, run=r, **run([bin_, "--version"], netns=False))
        rec(what="list-empty", n=0, run=r, **run(vn(pristine, "list"), netns=False))
    large, large_runs = int(env("BENCH_LARGE")), int(env("BENCH_LARGE_RUNS"))
    for n in ns_list:
        # Run 0 is traced (strace -c) and checked, not timed; runs 1.. are
        # timed. From BENCH_LARGE tenants on, fewer runs and no trace: the
        # counts per tenant are the smaller N's.
        first, last = (1, large_runs) if n >= large else (0, runs)
        # Nothing a round made is deleted before the whole bench ends (its
        # work directory goes then): on ext4 without a journal, as here, a
        # new inode is not given out within minutes of one deleted nearby
        # (fs/ext4/ialloc.c, recently_deleted), and every file a later run
        # created then scanned past the thousands a deleted site freed —
        # 2.5x the time of 500 new tenants' add-user, all of it the
        # kernel's, which the floor and doctor, creating no files, never pay.
        for r in range(first, last + 1):
            trace = r == 0
            st = f"{work}/s-{storage}-{n}-{r}"
            shutil.rmtree(st, ignore_errors=True)
            shutil.copytree(pristine, st, symlinks=True)
            nf = f"{work}/names-{storage}-{n}-{r}"
            names(nf, f"t{n}r{r}x", n)
            # The usual script is slow: traced only at its smallest N, and
            # at most BENCH_BASELINE_RUNS timed runs.
            if n in base_ns and storage == "inmem" and r <= base_runs and (r > 0 or n == min(base_ns)):
                bdir = f"{work}/base-{n}-{r}"
                rec(what="baseline", n=n, run=r, **run(
                    ["bench/baseline-add-user.sh", bdir] + [f"b{n}r{r}x{i}" for i in range(n)], trace=trace))
            os.environ["FLOOR_PREFIX"] = f"f{n}r{r}x"
            rec(what="floor", n=n, run=r, **run(["python3", "bench/floor-add-user.py", str(n)], trace=trace))
            add = vn(st, "add-user", "--no-unix-user", "--token-file", token, "--from", nf)
            rec(what="add-user", n=n, run=r, **run(add, trace=trace))
            rec(what="rerun", n=n, run=r, **run(add, trace=trace))
            for j in other_jobs if not trace else []:
                # The same add-user with another `--jobs` (1: one tenant
                # after the other), in the same round, on a fresh copy of
                # the site with names of its own.
                alt = f"{st}-jobs{j}"
                shutil.rmtree(alt, ignore_errors=True)
                shutil.copytree(pristine, alt, symlinks=True)
                jf = f"{nf}-jobs{j}"
                names(jf, f"t{n}r{r}j{j}x", n)
                rec(what=f"add-user-jobs{j}", n=n, run=r, **run(
                    vn(alt, "add-user", "--no-unix-user", "--jobs", j, "--token-file", token, "--from", jf)))
            if before and not trace:
                # The previous build's add-user and rerun, in the same round,
                # on a fresh copy of the site with names of their own.
                old = st + "-before-add"
                shutil.rmtree(old, ignore_errors=True)
                shutil.copytree(pristine, old, symlinks=True)
                of = nf + "-before"
                names(of, f"t{n}r{r}y", n)
                add_old = [before, "--dir", old, "add-user", "--no-unix-user",
                           "--token-file", token, "--from", of]
                rec(what="add-user-before", n=n, run=r, **run(add_old))
                rec(what="rerun-before", n=n, run=r, **run(add_old))
            rec(what="doctor", n=n, run=r, **run(
                vn(st, "doctor", "--token-file", token), trace=trace, check=False))
            if before and not trace:
                # The same doctor from another build, in the same round, on
                # a copy of the site without the record fields it predates.
                old = st + "-before"
                shutil.rmtree(old, ignore_errors=True)
                shutil.copytree(st, old, symlinks=True)
                with open(f"{st}/vaultnet.yaml") as f:
                    kept = [l for l in f
                            if "secret_ids_swept:" not in l and "secret_id_sha256:" not in l]
                with open(f"{old}/vaultnet.yaml", "w") as f:
                    f.writelines(kept)
                rec(what="doctor-before", n=n, run=r, **run(
                    [before, "--dir", old, "doctor", "--token-file", token], check=False))
            rep = f"{work}/doctor-login-{storage}-{n}-{r}.json"
            res = run(vn(st, "doctor", "--login", "--output", "json", "--token-file", token),
                      trace=trace, out=rep, check=False)
            res["logins_ok"] = logins_ok(rep, n)
            rec(what="doctor-login", n=n, run=r, **res)

# `add-user --jobs` when not given (src/commands/add_user.rs, JOBS).
DEFAULT_JOBS = 4

def report(results):
    rows = [json.loads(l) for l in open(results)]
    timed = [r for r in rows if r["run"] > 0]
    def sel(storage, what, n, runs=timed):
        return [r for r in runs if r["storage"] == storage and r["what"] == what and r["n"] == n]
    def med(xs):
        return statistics.median(xs) if xs else float("nan")
    def per(storage, what, n):
        return med([r["wall"] / n * 1000 for r in sel(storage, what, n)])
    def ratio(storage, a, b, n):
        """Median of the run-by-run ratios a/b (both run in the same round)."""
        A = {r["run"]: r["wall"] for r in sel(storage, a, n)}
        B = {r["run"]: r["wall"] for r in sel(storage, b, n)}
        return med([A[k] / B[k] for k in A if k in B])
    def traced(storage, what, n, key):
        """From the traced run; requests, counted on every run, from the first."""
        t = [r for r in rows if r["storage"] == storage and r["what"] == what and r["n"] == n and key in r]
        t.sort(key=lambda r: r["run"])
        return t[0].get(key) if t else None
    storages = sorted({r["storage"] for r in rows}, key=lambda s: s != "inmem")
    ns_list = sorted({r["n"] for r in rows if r["n"] > 0})
    p = print
    per_n = {n: max(r["run"] for r in rows if r["n"] == n) for n in ns_list}
    p("Timed runs per cell (median quoted): "
      + ", ".join(f"N={n}: {k}" for n, k in per_n.items())
      + f"; the usual script: {int(os.environ.get('BENCH_BASELINE_RUNS', 1))} at most. Below "
      f"N={os.environ.get('BENCH_LARGE', '1000')} one more run, traced with strace, gives the fsync and "
      "rename counts and is not timed.\n")
    p("### Start-up\n")
    p("| command | median | max |")
    p("|---|---|---|")
    for what, label in (("startup", "`vaultnet --version`"), ("list-empty", "`vaultnet list` (a site with no tenants)")):
        w = [r["wall"] * 1000 for r in rows if r["what"] == what and r["storage"] == storages[0]]
        p(f"| {label} | {med(w):.1f} ms | {max(w):.1f} ms |")
    for s in storages:
        p(f"\n### {'in-memory' if s == 'inmem' else 'raft'} storage\n")
        p("| N | add-user ms/tenant | floor ms/tenant | baseline ms/tenant | add-user ÷ floor | baseline ÷ add-user "
          "| rerun ms/tenant | doctor s | doctor --login s | logins ok |")
        p("|---|---|---|---|---|---|---|---|---|---|")
        for n in ns_list:
            b = per(s, "baseline", n)
            bs = f"{b:.1f}" if b == b else "—"
            br = ratio(s, "baseline", "add-user", n)
            brs = f"{br:.0f}×" if br == br else "—"
            dl = sel(s, "doctor-login", n)
            ok = all(r.get("logins_ok") for r in dl + [x for x in rows if x["run"] == 0 and x["storage"] == s and x["what"] == "doctor-login" and x["n"] == n])
            p(f"| {n} | {per(s, 'add-user', n):.2f} | {per(s, 'floor', n):.2f} | {bs} | "
              f"{ratio(s, 'add-user', 'floor', n):.1f}× | {brs} | {per(s, 'rerun', n):.2f} | "
              f"{med([r['wall'] for r in sel(s, 'doctor', n)]):.2f} | "
              f"{med([r['wall'] for r in dl]):.2f} | {'all' if ok else 'NOT ALL'} |")
        jobs_seen = sorted({r["what"][len("add-user-jobs"):] for r in rows
                            if r["storage"] == s and r["what"].startswith("add-user-jobs")}, key=int)
        if jobs_seen:
            p(f"\n`add-user` (--jobs {DEFAULT_JOBS}, the default) beside other `--jobs` (BENCH_JOBS), same round:\n")
            p("| N | " + " | ".join(f"--jobs {j} ms/tenant | --jobs {j} ÷ default" for j in jobs_seen)
              + f" | --jobs {DEFAULT_JOBS} ms/tenant | ÷ floor |")
            p("|---|" + "---|---|" * len(jobs_seen) + "---|---|")
            for n in ns_list:
                p(f"| {n} | " + " | ".join(
                    f"{per(s, f'add-user-jobs{j}', n):.2f} | {ratio(s, f'add-user-jobs{j}', 'add-user', n):.1f}×"
                    for j in jobs_seen)
                  + f" | {per(s, 'add-user', n):.2f} | {ratio(s, 'add-user', 'floor', n):.1f}× |")
        if sel(s, "add-user-before", ns_list[-1]):
            p("\n`add-user` and its rerun beside the previous build's (BENCH_BEFORE_BIN), same round:\n")
            p("| N | previous add-user ms/tenant | add-user ms/tenant | previous ÷ this "
              "| previous rerun ms/tenant | rerun ms/tenant | previous ÷ this |")
            p("|---|---|---|---|---|---|---|")
            for n in ns_list:
                p(f"| {n} | {per(s, 'add-user-before', n):.2f} | {per(s, 'add-user', n):.2f} | "
                  f"{ratio(s, 'add-user-before', 'add-user', n):.1f}× | "
                  f"{per(s, 'rerun-before', n):.2f} | {per(s, 'rerun', n):.2f} | "
                  f"{ratio(s, 'rerun-before', 'rerun', n):.1f}× |")
        if sel(s, "doctor-before", ns_list[-1]):
            p("\n`doctor` beside the previous build's (BENCH_BEFORE_BIN), same site, same round:\n")
            p("| N | previous doctor s | doctor s | previous ÷ this |")
            p("|---|---|---|---|")
            for n in ns_list:
                p(f"| {n} | {med([r['wall'] for r in sel(s, 'doctor-before', n)]):.2f} | "
                  f"{med([r['wall'] for r in sel(s, 'doctor', n)]):.2f} | {ratio(s, 'doctor-before', 'doctor', n):.1f}× |")
        p("\nPer tenant (run's own requests included, so N=10 shows them most), from the traced run:\n")
        p("| N | add-user requests | rerun requests | doctor requests | doctor --login requests "
          "| add-user fsyncs | rerun fsyncs | doctor fsyncs | add-user renames | rerun renames |")
        p("|---|---|---|---|---|---|---|---|---|---|")
        for n in ns_list:
            def q(w, k):
                v = traced(s, w, n, k)
                return "—" if v is None else f"{v / n:.2f}"
            p(f"| {n} | {q('add-user', 'requests')} | {q('rerun', 'requests')} | "
              f"{q('doctor', 'requests')} | {q('doctor-login', 'requests')} | "
              f"{q('add-user', 'fsyncs')} | {q('rerun', 'fsyncs')} | {q('doctor', 'fsyncs')} | "
              f"{q('add-user', 'renames')} | {q('rerun', 'renames')} |")
        p("\nCPU seconds per run (median of the timed runs): vaultnet's own (user + system) and OpenBao's "
          "in the same interval:\n")
        p("| N | add-user | its OpenBao | rerun | its OpenBao | doctor | its OpenBao | doctor --login | its OpenBao |")
        p("|---|---|---|---|---|---|---|---|---|")
        for n in ns_list:
            c = lambda w, k: med([r.get(k, float("nan")) for r in sel(s, w, n)])
            p(f"| {n} | " + " | ".join(f"{c(w, 'cpu'):.2f} | {c(w, 'bao_cpu'):.2f}"
                                      for w in ("add-user", "rerun", "doctor", "doctor-login")) + " |")
        p("\nPeak RSS of the largest process, MiB (median of the timed runs):\n")
        p("| N | add-user | rerun | doctor | doctor --login |")
        p("|---|---|---|---|---|")
        for n in ns_list:
            m = lambda w: med([r["rss_kib"] / 1024 for r in sel(s, w, n)])
            p(f"| {n} | {m('add-user'):.1f} | {m('rerun'):.1f} | {m('doctor'):.1f} | {m('doctor-login'):.1f} |")

if __name__ == "__main__":
    if sys.argv[1] == "run":
        measure(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "report":
        report(sys.argv[2])
    else:
        sys.exit(__doc__)
