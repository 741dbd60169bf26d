using Harden.Planning;

namespace Harden.Core.Tests;

public sealed class UnifiedDiffTests
{
    [Test]
    public void Equal_texts_have_no_diff() => Assert.That(UnifiedDiff.Compute("a", "b", "x\n", "x\n"), Is.Empty);

    [Test]
    public void A_new_file_is_all_additions()
    {
        Assert.That(UnifiedDiff.Compute("/dev/null", "b/f", "", "one\ntwo\n"),
            Is.EqualTo("--- /dev/null\n+++ b/f\n@@ -0,0 +1,2 @@\n+one\n+two\n"));
    }

    [Test]
    public void A_changed_line_shows_three_lines_of_context()
    {
        var before = string.Join("\n", Enumerable.Range(1, 10)) + "\n";
        var after = before.Replace("5\n", "five\n");
        Assert.That(UnifiedDiff.Compute("a/f", "b/f", before, after),
            Is.EqualTo("--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"));
    }

    [Test]
    public void Far_apart_changes_make_two_hunks()
    {
        var before = string.Join("\n", Enumerable.Range(1, 30)) + "\n";
        var after = before.Replace("\n3\n", "\nthree\n").Replace("\n27\n", "\ntwenty-seven\n");
        var diff = UnifiedDiff.Compute("a/f", "b/f", before, after);
        Assert.That(diff.Split('\n').Count(l => l.StartsWith("@@", StringComparison.Ordinal)), Is.EqualTo(2));
    }
}
