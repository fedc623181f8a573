#!/usr/bin/env python3
"""readme.py README BUILD_DIR CORPUS_DIR [--update] -- runs every ```console block of README.md.

In a fresh folder holding a copy of corpus/, `build` (a link to BUILD_DIR) and kfts.db from
`build/kfts-index -q corpus`, each "$ command" runs under sh (a command ending in <<'EOF'
takes the lines up to EOF), and its standard output must equal the lines that follow it in
the block. Debian's python3 (/usr/bin/python3) comes first on PATH: it can load extensions.
With --update the README's outputs are rewritten from what the commands print (then read the
diff before committing it)."""
import os, re, shutil, subprocess, sys, tempfile

readme, build, corpus = sys.argv[1:4]
update = "--update" in sys.argv[4:]
text = open(readme, encoding="utf-8").read()
blocks = re.findall(r"^```console\n(.*?)^```$", text, re.S | re.M)
new_blocks = []
tmp = tempfile.mkdtemp()
failed = 0
try:
    shutil.copytree(corpus, os.path.join(tmp, "corpus"))
    os.symlink(os.path.abspath(build), os.path.join(tmp, "build"))
    bindir = os.path.join(tmp, ".bin")
    os.mkdir(bindir)
    if os.path.exists("/usr/bin/python3"):
        os.symlink("/usr/bin/python3", os.path.join(bindir, "python3"))
    env = dict(os.environ, LC_ALL="C.UTF-8", TZ="UTC", PATH=bindir + ":" + os.environ["PATH"],
               XDG_CONFIG_HOME=os.path.join(tmp, ".config"))
    env.pop("KFTS_DB", None)
    env.pop("COLUMNS", None)
    subprocess.run(["build/kfts-index", "-q", "corpus"], cwd=tmp, env=env, check=True)
    n = 0
    for block in blocks:
        lines = block.split("\n")[:-1]
        out_lines = []
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                print("readme: output without a command: %r" % lines[i])
                failed += 1
                i += 1
                continue
            cmd = lines[i][2:]
            out_lines.append(lines[i])
            i += 1
            if cmd.endswith("<<'EOF'"):
                while i < len(lines) and lines[i] != "EOF":
                    cmd += "\n" + lines[i]
                    out_lines.append(lines[i])
                    i += 1
                cmd += "\nEOF"
                out_lines.append("EOF")
                i += 1
            want = []
            while i < len(lines) and not lines[i].startswith("$ "):
                want.append(lines[i])
                i += 1
            got = subprocess.run(["sh", "-c", cmd], cwd=tmp, env=env, capture_output=True, text=True)
            n += 1
            if got.stdout.rstrip("\n"):
                out_lines.extend(got.stdout.rstrip("\n").split("\n"))
            if got.stdout.rstrip("\n").split("\n") != ("\n".join(want)).split("\n") and not (
                    not want and not got.stdout):
                failed += 1
                print("readme: `%s` printed:\n%s\n--- the README says:\n%s\n--- stderr:\n%s"
                      % (cmd.split("\n")[0], got.stdout, "\n".join(want), got.stderr))
        new_blocks.append("\n".join(out_lines) + "\n")
    print("readme: %d commands, %d differ" % (n, failed))
    if update:
        it = iter(new_blocks)
        text = re.sub(r"^```console\n(.*?)^```$", lambda m: "```console\n" + next(it) + "```", text,
                      flags=re.S | re.M)
        open(readme, "w", encoding="utf-8").write(text)
        print("readme: %s rewritten" % readme)
        failed = 0
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if failed or not blocks else 0)
