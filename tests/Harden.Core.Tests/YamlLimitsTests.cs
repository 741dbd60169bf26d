using System.Text;
using Harden.Profiles;

namespace Harden.Core.Tests;

/// <summary>Hostile YAML is refused with file and line before any node tree is built (issue "Safety, round 3").</summary>
public sealed class YamlLimitsTests
{
    private static string Refusal(string yaml)
    {
        using var dir = new TempDirectory();
        var path = dir.Write("hostile.yaml", yaml);
        var e = Assert.Throws<HardenException>(() => ProfileLoader.Load(path))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Error));
        return e.Message;
    }

    [TestCase(200_000, "[", "]")]
    [TestCase(200_000, "{a: ", "}")]
    [TestCase(65, "[", "]")]
    public void Nesting_deeper_than_the_limit_is_refused_not_a_crash(int depth, string open, string close)
    {
        var text = "name: hostile\nmodules: " + string.Concat(Enumerable.Repeat(open, depth)) + "x" + string.Concat(Enumerable.Repeat(close, depth)) + "\n";
        Assert.That(Refusal(text), Does.Match(@"hostile\.yaml:2: YAML nested more than 64 levels deep"));
    }

    [Test]
    public void Block_style_nesting_is_refused_too()
    {
        var text = new StringBuilder("name: hostile\nmodules:\n");
        for (var i = 0; i < 100; i++) text.Append(new string(' ', 2 * (i + 1))).Append("a:\n");
        Assert.That(Refusal(text.ToString()), Does.Contain("nested more than 64 levels deep"));
    }

    [TestCase(9)]
    [TestCase(30)]
    public void Billion_laughs_is_refused_at_the_alias_that_crosses_the_limit(int levels)
    {
        var text = new StringBuilder("name: hostile\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (var i = 1; i < levels; i++)
            text.Append($"l{i}: &l{i} [").Append(string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 9))).Append("]\n");
        var message = Refusal(text.ToString());
        Assert.That(message, Does.Match(@"hostile\.yaml:\d+: YAML aliases here expand to more than 100,000 nodes"));
    }

    [Test]
    public void A_few_aliases_and_ordinary_depth_still_load_into_the_usual_errors()
    {
        // Within the limits the YAML reaches the profile checks, which say what is wrong with it as a profile.
        var message = Refusal("name: hostile\nx: &a [1, 2]\ny: *a\nmodules: [[[[1]]]]\n");
        Assert.That(message, Does.Not.Contain("nested").And.Not.Contain("expand"));
    }
}
