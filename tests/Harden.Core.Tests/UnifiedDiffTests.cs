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

    [Test]
    public void A_huge_pair_is_summarised_not_diffed()
    {
        var big = string.Concat(Enumerable.Range(0, 60_000).Select(i => $"line {i}\n"));
        var other = string.Concat(Enumerable.Range(0, 60_000).Select(i => $"other {i}\n"));
        var diff = UnifiedDiff.Compute("a/x", "b/x", big, other);
        Assert.That(diff, Does.Contain("too large to show"));
    }

    [Test]
    public void Many_edits_in_a_mid_sized_file_stay_bounded()
    {
        var a = string.Concat(Enumerable.Range(0, 20_000).Select(i => $"{i}\n"));
        var b = string.Concat(Enumerable.Range(0, 20_000).Select(i => i % 2 == 0 ? $"{i}\n" : $"x{i}\n"));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var diff = UnifiedDiff.Compute("a/x", "b/x", a, b);
        Assert.That(diff, Does.Contain("too many changes to show"));
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(512L << 20), "memory grows with edits squared, not with file size times edits");
    }
}
