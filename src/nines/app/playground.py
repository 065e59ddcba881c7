"""The red-team playground's models: generate completions, score them, explain and suggest edits.

The classifier and generator load lazily on first use and are shared by all requests; model
calls are serialised by one lock, since two at once would only fight over the same CPU cores.
Saliency and edit suggestions come from :mod:`nines.adversarial` (gradient saliency for an
encoder classifier, occlusion for any other).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from nines.app.errors import Conflict, Unprocessable
from nines.app.settings import AppSettings
from nines.generate.base import Prompt


class Playground:
    """Generation and scoring for the red-team pages.

    Args:
        settings: where the classifier lives and which generator to use.
        classifier: an already-built classifier (tests pass one); overrides ``settings``.
        generator: an already-built generator; overrides ``settings.generator``.
    """

    def __init__(self, settings: AppSettings, classifier: Any = None, generator: Any = None) -> None:
        self.settings = settings
        self._classifier = classifier
        self._generator = generator
        self._world: Any = None
        self._sources: list[Any] | None = None
        self._lock = threading.RLock()

    # -- loading

    @property
    def has_classifier(self) -> bool:
        """Whether scoring is available at all."""
        return self._classifier is not None or self.settings.classifier_dir is not None

    def classifier(self) -> Any:
        """The classifier, loaded on first use.

        Raises:
            Conflict: the app was started without ``--classifier``.
        """
        with self._lock:
            if self._classifier is None:
                if self.settings.classifier_dir is None:
                    raise Conflict("no classifier is loaded: start the app with `nines serve --classifier DIR`")
                from nines.classify.encoder import EncoderClassifier

                self._classifier = EncoderClassifier.load(self.settings.classifier_dir)
            return self._classifier

    def _gen(self) -> Any:
        with self._lock:
            if self._generator is None:
                spec = self.settings.generator
                if spec == "storyworld":
                    from nines.storyworld import StoryWorld

                    self._world = StoryWorld(seed=0)
                    self._generator = self._world.generator()
                else:
                    from nines.generate.registry import load_generator

                    self._generator = load_generator(spec)
            return self._generator

    # -- scoring

    def threshold(self) -> float:
        """The filter threshold: a snippet scoring above it is rejected."""
        return float(self.classifier().threshold)

    def scores(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        """Calibrated scores of pairs."""
        clf = self.classifier()
        with self._lock:
            return [float(x) for x in clf.score(list(prompts), list(completions))]

    def verdict(self, prompt: str, completion: str) -> dict[str, Any]:
        """``{"score", "threshold", "accepted"}`` for one snippet."""
        score = self.scores([prompt], [completion])[0]
        threshold = self.threshold()
        return {"score": score, "threshold": threshold, "accepted": score <= threshold}

    # -- generation

    def sample_prompt(self, seed: int) -> Prompt:
        """A prompt the StoryWorld generator can continue; the page sends its id back with its text.

        Raises:
            Conflict: the generator is not StoryWorld (type a prompt instead).
        """
        self._gen()
        if self._world is None:
            raise Conflict("random prompts come from StoryWorld; this app uses another generator, so type one")
        with self._lock:
            return self._world.sample_prompts(1, seed=seed)[0]

    def generate(self, prompt: str, n: int, seed: int, prompt_id: str | None = None) -> list[dict[str, Any]]:
        """``n`` completions, each with its score and verdict when a classifier is loaded.

        Args:
            prompt: the prompt's text.
            n: completions wanted (at most ``settings.max_generate``).
            seed: the generator's seed.
            prompt_id: the id of a prompt :meth:`sample_prompt` handed out (StoryWorld continues a
                scene by its id); a typed prompt has none and gets its text's id.

        Raises:
            Unprocessable: the generator cannot continue this prompt.
        """
        n = min(n, self.settings.max_generate)
        gen = self._gen()
        target = Prompt(prompt_id, prompt) if prompt_id else Prompt.from_text(prompt)
        try:
            with self._lock:
                out = gen.generate([target], n=n, seed=seed)[0]
        except (ValueError, TypeError) as e:
            hint = " (press 'random prompt' for one it can)" if self._world is not None else ""
            raise Unprocessable(f"the generator cannot continue this prompt: {e}{hint}") from None
        rows: list[dict[str, Any]] = [{"completion": c.text} for c in out]
        if self.has_classifier and rows:
            scores = self.scores([prompt] * len(rows), [r["completion"] for r in rows])
            threshold = self.threshold()
            for r, s in zip(rows, scores):
                r.update(score=s, threshold=threshold, accepted=s <= threshold)
        return rows

    # -- explanation

    def saliency(self, prompt: str, completion: str) -> dict[str, Any]:
        """Per-word saliency of both segments (positive pushes toward 'injurious')."""
        from nines.adversarial.saliency import gradient_saliency, occlusion_saliency
        from nines.classify.encoder import EncoderClassifier

        clf = self.classifier()
        with self._lock:
            if isinstance(clf, EncoderClassifier):
                smap = gradient_saliency(clf, prompt, completion)
            else:
                smap = occlusion_saliency(clf, prompt, completion)
        threshold = self.threshold()
        words = [{"segment": w.segment, "index": w.index, "word": w.word, "start": w.start, "end": w.end,
                  "value": w.value} for w in smap.words()]
        return {"score": smap.score, "threshold": threshold, "accepted": smap.score <= threshold,
                "method": smap.method, "words": words}

    def _candidate_sources(self, clf: Any) -> list[Any]:
        with self._lock:
            if self._sources is None:
                from nines.adversarial.candidates import EmbeddingNeighbours, GradientCandidates
                from nines.classify.encoder import EncoderClassifier

                self._sources = ([EmbeddingNeighbours(clf), GradientCandidates(clf)]
                                 if isinstance(clf, EncoderClassifier) else [])
            return self._sources

    def suggest(self, prompt: str, completion: str, segment: str, index: int, k: int) -> list[dict[str, Any]]:
        """Substitutions, insertions and the deletion at one word, scored, lowest score first.

        Raises:
            Unprocessable: the word index is out of range.
        """
        from nines.adversarial.candidates import suggest_edits

        clf = self.classifier()
        sources = self._candidate_sources(clf)
        try:
            with self._lock:
                found = suggest_edits(clf, prompt, completion, segment, index, sources, k=k)  # type: ignore[arg-type]
        except ValueError as e:
            raise Unprocessable(str(e)) from None
        return [{"kind": s.kind, "segment": s.segment, "index": s.index, "old": s.old, "new": s.new,
                 "prompt": s.prompt, "completion": s.completion, "score": s.score, "accepted": s.accepted}
                for s in found]
