"""What each part of the suite found: figures to print and to write into the docs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Section:
    """One part of the suite: its title, its figures (one line each) and whether it held."""

    title: str
    figures: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not self.failures

    def figure(self, line: str) -> None:
        self.figures.append(line)

    def fail(self, problem: str) -> None:
        self.failures.append(problem)

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        lines += [f"- {line}" for line in self.figures]
        if self.failures:
            lines += ["", "**Failed:**", ""]
            lines += [f"- {problem}" for problem in self.failures]
        return "\n".join(lines) + "\n"
