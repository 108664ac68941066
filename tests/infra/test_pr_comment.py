"""The pull-request comment that gathers every stack's offline-plan diff (infra/pr_comment.py)."""

from infra import diff, pr_comment


def _section(stack: str, changes: int) -> str:
    base = diff.Plan("main", objects={f"ConfigMap ns/c{i}": {"data": {"k": "a" * 90}} for i in range(changes)})
    head = diff.Plan("this tree", objects={f"ConfigMap ns/c{i}": {"data": {"k": "b" * 90}} for i in range(changes)})
    return diff.compare(base, head).markdown(stack)


def test_every_stack_in_full_when_it_fits():
    sections = [_section("dev", 2), _section("prod", 3)]
    text = pr_comment.combine(sections)
    assert text.startswith(pr_comment.MARKER + "\n")
    assert all(section in text for section in sections)
    assert "the offline-plans artifact" not in text


def test_a_long_comment_keeps_every_stacks_headline_and_stays_under_the_limit():
    sections = [_section(stack, 100) for stack in ("dev", "prod", "eks-llmd", "kserve")]  # ~30k characters each
    assert sum(len(s) for s in sections) > 65_536
    text = pr_comment.combine(sections)
    assert len(text) <= pr_comment.MAX_CHARS
    assert sections[0] in text  # the first stacks in full
    for stack in ("dev", "prod", "eks-llmd", "kserve"):
        assert f"### Offline plan `{stack}` against `main`" in text and text.count("**100 changed") == 4
    assert "_Details: the offline-plans artifact._" in text


def test_the_command_reads_the_files_and_names_a_missing_one(tmp_path, capsys):
    (tmp_path / "dev.diff.md").write_text(_section("dev", 1))
    assert pr_comment.main([str(tmp_path / "dev.diff.md"), "--out", str(tmp_path / "comment.md")]) == 0
    assert (tmp_path / "comment.md").read_text().startswith(pr_comment.MARKER)
    assert pr_comment.main([str(tmp_path / "prod.diff.md")]) == 2
    assert "error: no such --markdown file:" in capsys.readouterr().err
