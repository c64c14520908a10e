"""Rules about specc's own comments in the spec."""
from specc.lint.registry import rule


@rule("L001", "unused-suppression", "warning",
      "a `# specc: ignore[...]` comment that suppresses nothing",
      """
A suppression comment that matches no finding on its line is noise at best, and at worst
a typo that hides nothing while looking as if it did (`ignore[bias-befor-norm]`).

Bad:   - {op: Conv2d, out_channels: 8, kernel_size: 3, bias: false}  # specc: ignore[bias-before-norm]
Good:  - {op: Conv2d, out_channels: 8, kernel_size: 3, bias: false}
""", "remove the comment, or fix the rule name")
def unused_suppression(graph, facts):
    return ()  # reported by the registry while it applies suppressions
