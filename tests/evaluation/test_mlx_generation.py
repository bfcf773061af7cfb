"""MLX batched generation on tiny real models: the training prompt exactly, truncation exactly at max_tokens (the
stop token at the limit is not a truncation), every key answered once, batches of similar prompt lengths."""

import pytest
from distill.agents.student import STUDENT_SYSTEM_PROMPT, training_example
from distill.evaluation.grading import answer_row
from distill.evaluation.mlx_generation import MlxGenerator
from distill.models.mlx_runtime import load_mlx

from tests.evaluation.helpers import ANSWER_CHAIN, write_scripted_model

QUESTIONS = {"short": "What is 40 plus 2 ?", "long": "What is 40 plus 2 ? What is 40 plus 2 ? Say it .",
             "mid": "What is 3 times 5 ?"}


@pytest.fixture(scope="module")
def scripted_model(tmp_path_factory):
    return write_scripted_model(tmp_path_factory.mktemp("scripted") / "model",
                                [STUDENT_SYSTEM_PROMPT, *QUESTIONS.values(), "Answer : \\ boxed { }"])


@pytest.mark.parametrize("max_tokens, tokens, truncated", [
    (3, 3, True), (len(ANSWER_CHAIN), len(ANSWER_CHAIN), True),  # cut before the stop token: truncated
    (len(ANSWER_CHAIN) + 1, len(ANSWER_CHAIN), False),  # the stop token is the last allowed one: finished
    (40, len(ANSWER_CHAIN), False),
])
def test_truncated_exactly_when_cut_at_max_tokens(scripted_model, max_tokens, tokens, truncated):
    generator = MlxGenerator.load(scripted_model, max_tokens=max_tokens, batch_size=3)
    generations, seconds = generator.generate([generator.prompt(q) for q in QUESTIONS.values()])
    assert seconds > 0
    for generation in generations:
        assert (generation.tokens, generation.truncated) == (tokens, truncated)
        assert generation.text == " ".join(ANSWER_CHAIN[:tokens])


def test_a_finished_answer_is_graded_and_a_cut_one_is_flagged(scripted_model):
    generator = MlxGenerator.load(scripted_model, max_tokens=40)
    [done], _ = generator.generate([generator.prompt(QUESTIONS["short"])])
    row = answer_row(done.text, "42", truncated=done.truncated)
    assert (row["answer"], row["rule_verdict"], row["truncated"], row["words"]) == ("42", "correct", False, 6)


def test_the_prompt_is_the_training_prompt(scripted_model):
    """What the student sees in evaluation is the prefix mlx-lm masks in training: same system prompt, same template."""
    load_mlx()
    from mlx_lm.tuner.datasets import ChatDataset

    generator = MlxGenerator.load(scripted_model, max_tokens=4)
    question = QUESTIONS["mid"]
    dataset = ChatDataset([training_example(question, "3 times 5 is 15 .", "15")], generator.tokenizer,
                          mask_prompt=True)
    tokens, offset = dataset.process(dataset[0])
    assert generator.prompt(question) == tokens[:offset]
    text = generator.tokenizer.decode(generator.prompt(question))
    assert STUDENT_SYSTEM_PROMPT.split()[0] in text and text.rstrip().endswith("assistant")


def test_batches_answer_every_key_once_grouped_by_prompt_length(scripted_model):
    generator = MlxGenerator.load(scripted_model, max_tokens=40, batch_size=2)
    batches = list(generator.batches(QUESTIONS))
    assert [len(b.keys) for b in batches] == [2, 1]
    assert [k for b in batches for k in b.keys] == ["mid", "short", "long"]  # by prompt length, then key
    assert all(b.seconds > 0 and b.tokens == len(ANSWER_CHAIN) * len(b.keys) for b in batches)


def test_random_tiny_model_runs_into_the_limit(tiny_model_dir):
    generator = MlxGenerator.load(tiny_model_dir, max_tokens=5, batch_size=4)
    generations, _ = generator.generate([generator.prompt("What is 3 plus 4 ?")] * 2)
    assert all(g.tokens <= 5 and g.truncated == (g.tokens == 5) for g in generations)
    assert generations[0].text == generations[1].text  # greedy: the same prompt gives the same answer
