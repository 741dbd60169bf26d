namespace Harden.Integration.Tests;

/// <summary>The command surface itself, through the real entry point (no root needed).</summary>
public sealed class CliTests
{
    [Test]
    public async Task Profiles_list_and_show_describe_variables_and_citations()
    {
        var list = await HardenCli.RunAsync("profiles", "list");
        var show = await HardenCli.RunAsync("profiles", "show", "debian-hipaa");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(list.ExitCode, Is.Zero);
            Assert.That(list.Out, Does.Contain("ubuntu-hipaa").And.Contain("debian-hipaa"));
            Assert.That(show.Out, Does.Contain("lineage: hipaa-base -> debian-hipaa"));
            Assert.That(show.Out, Does.Match(@"session_timeout\s+int \[60\.\.3600\]\s+default: 900"));
            Assert.That(show.Out, Does.Contain("Seconds of shell inactivity before automatic logoff"));
            Assert.That(show.Out, Does.Contain("HIPAA: 45 CFR 164.312(b), 45 CFR 164.312(c)(1)"));
            Assert.That(show.Out, Does.Contain("only when set: log_server"));
        }
    }

    [Test]
    public async Task Version_names_the_commit_and_the_embedded_profiles()
    {
        var run = await HardenCli.RunAsync("version");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var commit = (await CliWrap.Buffered.BufferedCommandExtensions.ExecuteBufferedAsync(CliWrap.Cli.Wrap("git")
            .WithArguments(["-C", ShippedArtifactsTests.RepoRoot, "rev-parse", "HEAD"]).WithValidation(CliWrap.CommandResultValidation.None))).StandardOutput.Trim();
        Assert.That(run.Out, Does.Match(@"^harden \d+\.\d+\.\d+\n"));
        if (commit.Length == 40) Assert.That(run.Out, Does.Contain($"commit: {commit}"), "the build stamps the commit it was made from");
        Assert.That(run.Out, Does.Contain("  debian-hipaa (debian 11, debian 12, debian 13)").And.Contain("  ubuntu-hipaa (ubuntu 22.04, ubuntu 24.04)"));
    }

    [Test]
    public async Task Unknown_profile_in_show_is_an_error_listing_the_known_ones()
    {
        var show = await HardenCli.RunAsync("profiles", "show", "rhel-hipaa");
        Assert.That(show.ExitCode, Is.EqualTo(1));
        Assert.That(show.Error, Does.Contain("unknown profile 'rhel-hipaa'; known profiles: debian-hipaa, hipaa-base, ubuntu-hipaa"));
    }

    [TestCase("plan", "--profile", "debian-hipaa", "--format", "yaml")]
    [TestCase("plan", "--no-such-option")]
    public async Task Bad_command_lines_exit_1(params string[] args)
    {
        var run = await HardenCli.RunAsync(args);
        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        Assert.That(run.Error, Is.Not.Empty);
    }

    [Test]
    public async Task Help_names_every_command()
    {
        var help = await HardenCli.RunAsync("--help");
        Assert.That(help.Out, Does.Contain("plan").And.Contain("apply").And.Contain("rollback").And.Contain("profiles").And.Contain("164.312"));
    }

    [Test]
    public async Task Apply_without_a_terminal_or_yes_changes_nothing_and_says_why()
    {
        using var root = await DebianRoot.CreateAsync();
        var before = await Tree.CaptureAsync(root.Map("/etc"));
        var run = await HardenCli.RunAsync("apply", "--profile", "debian-hipaa", "--root", root.Path, "--accept-lockout-risk");
        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.Error, Does.Contain("pass --yes"));
        Assert.That(before.Differences(await Tree.CaptureAsync(root.Map("/etc"))), Is.Empty);
    }
}
