"""Run exported scripts as `python SCRIPT ARGS...` would, each in its own working folder, in one
process (TensorFlow is imported once, not once per script: the injection test stays quick).

    python run_exported.py SCRIPT CWD [SCRIPT CWD ...] -- ARGS...

A script that fails ends this process with its traceback (exit status 1).
"""
import os
import runpy
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    split = sys.argv.index("--")
    pairs, args = sys.argv[1:split], sys.argv[split + 1:]
    for script, cwd in zip(pairs[::2], pairs[1::2]):
        os.chdir(cwd)
        sys.argv = [script, *args]
        runpy.run_path(script, run_name="__main__")
        print(f"ran {script}", flush=True)


if __name__ == "__main__":
    main()
