using System.Text.RegularExpressions;
using CliWrap;
using CliWrap.Buffered;

namespace Harden.Integration.Tests;

/// <summary>
/// Output for people: colour only at a real terminal (a pty made by util-linux's <c>script</c>) and
/// never with NO_COLOR; --quiet keeps only the one-line results; --help's examples all run.
/// </summary>
public sealed partial class OutputForPeopleTests : RootTest
{
    /// <summary>Colour (SGR) sequences.</summary>
    [GeneratedRegex(@"\e\[[0-9;]*m")]
    private static partial Regex Colour();

    /// <summary>
    /// Keypad mode on and off (smkx/rmkx), which .NET itself writes to any terminal it runs at; a
    /// terminal acts on them and shows nothing. Not colour, so taken out before comparing text.
    /// </summary>
    [GeneratedRegex(@"\e\[\?1[hl]\e[=>]")]
    private static partial Regex Keypad();

    [Test]
    public async Task Colour_only_at_a_terminal_and_never_with_NO_COLOR()
    {
        var command = $"dotnet {HardenCli.Assembly} plan --profile debian-hipaa --root {Root.Path}";
        var terminal = Keypad().Replace(await AtTerminalAsync(command, noColor: ""), "");
        var noColor = Keypad().Replace(await AtTerminalAsync(command, noColor: "1"), "");
        var piped = await HardenCli.RunProcessAsync("plan", "--profile", "debian-hipaa", "--root", Root.Path);
        Assert.Multiple(() =>
        {
            Assert.That(terminal, Does.Contain("\e[32m+ file:").Or.Contain("\e[32m+ /etc/"), "a create is green at a terminal\n" + terminal);
            Assert.That(terminal, Does.Contain("\e[33m~ "), "an update is yellow");
            Assert.That(Colour().Replace(terminal, ""), Is.EqualTo(noColor), "colour changes no character of the text");
            Assert.That(noColor, Does.Not.Contain("\e["), "NO_COLOR=1 at a terminal");
            Assert.That(noColor, Does.Contain("Plan: "));
            Assert.That(piped.Out, Does.Not.Contain("\e["), "stdout to a pipe");
            Assert.That(piped.Out, Is.EqualTo(noColor), "the same text at a terminal without colour and in a pipe");
        });
    }

    [Test]
    public async Task Quiet_keeps_only_the_one_line_results()
    {
        var args = await WithOperatorAsync("--profile", "debian-hipaa");
        var plan = await Harden(["plan", "--quiet", .. args]);
        var apply = await Harden(["apply", "-q", "--yes", .. args]);
        var check = await Harden(["check", "--quiet", "--profile", "debian-hipaa", "--root", Root.Path]);
        var rollback = await Harden("rollback", "--quiet", "--yes", "--root", Root.Path);
        var lines = (CliRun run) => run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("warning: ", StringComparison.Ordinal)).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(plan.ExitCode, Is.Zero, plan.ToString());
            Assert.That(lines(plan), Has.Length.EqualTo(1).And.One.Match(@"^Plan: \d+ to create, \d+ to update"), plan.ToString());
            Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
            Assert.That(lines(apply), Has.Length.EqualTo(2), "the plan's line and the result, no progress\n" + apply);
            Assert.That(lines(apply)[1], Does.StartWith("Applied: "));
            Assert.That(check.ExitCode, Is.Zero, check.ToString());
            Assert.That(lines(check), Has.Length.EqualTo(1).And.One.Match(@"^\d+ passed, 0 failed"), check.ToString());
            Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
            Assert.That(lines(rollback), Has.Length.EqualTo(1).And.One.StartsWith("Rolled back run "), rollback.ToString());
        });
    }

    [Test]
    public async Task Every_example_in_help_names_a_real_command_and_options()
    {
        var help = await HardenCli.RunAsync("--help");
        var examples = help.Out.Split('\n').SkipWhile(l => l.Trim() != "Examples:").Skip(1).TakeWhile(l => l.Trim().Length > 0)
            .Select(l => l.Trim()).ToList();
        Assert.That(examples, Has.Count.GreaterThanOrEqualTo(5), help.Out);
        Assert.That(help.Out, Does.Contain("NO_COLOR").And.Contain("Exit codes:"));
        var tree = global::Harden.Cli.Program.CreateCommand(new global::Harden.Cli.Streams(TextWriter.Null, TextWriter.Null, null));
        foreach (var example in examples)
        {
            // The words up to the description, without sudo and harden, parsed (not run) as harden
            // would: an unknown command, option or value is a parse error.
            var words = Regex.Split(example.Replace("$(date +%F)", "2026-11-24", StringComparison.Ordinal), @"\s{2,}")[0]
                .Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipWhile(w => w is "sudo").Skip(1).ToArray();
            var parsed = tree.Parse(words);
            Assert.That(parsed.Errors.Select(e => e.Message), Is.Empty, example);
            Assert.That(parsed.CommandResult.Command.Name, Is.Not.EqualTo(tree.Name), example + " names a command");
        }
        Assert.That(tree.Parse(["plan", "--bogus"]).Errors, Is.Not.Empty, "the parse does catch a wrong option");
    }

    /// <summary>Runs a command line under a pseudo-terminal (util-linux script), as a person at a terminal would.</summary>
    private static async Task<string> AtTerminalAsync(string command, string noColor)
    {
        var r = await CliWrap.Cli.Wrap("script").WithArguments(["-qec", command, "/dev/null"])
            .WithEnvironmentVariables(e => e.Set("NO_COLOR", noColor).Set("TERM", "xterm"))
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        Assert.That(r.ExitCode, Is.Zero, r.StandardOutput + r.StandardError);
        return r.StandardOutput.Replace("\r\n", "\n", StringComparison.Ordinal);
    }
}
