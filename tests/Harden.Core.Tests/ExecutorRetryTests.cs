using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;
using Harden.Planning;
using Harden.Resources;

namespace Harden.Core.Tests;

/// <summary>Unit test of the executor's retry policy and restore, with a scripted command runner.</summary>
public sealed class ExecutorRetryTests
{
    private sealed class ScriptedRunner(params CommandResult[] results) : ICommandRunner
    {
        public List<IReadOnlyList<string>> Calls { get; } = [];

        public Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken)
        {
            Calls.Add(argv);
            return Task.FromResult(results[Math.Min(Calls.Count - 1, results.Length - 1)]);
        }
    }

    /// <summary>apt as a host without lists meets it: update and the checks before any write succeed; the install answers from <paramref name="installs"/>.</summary>
    private sealed class AptRunner(params CommandResult[] installs) : ICommandRunner
    {
        public List<IReadOnlyList<string>> Calls { get; } = [];
        public List<IReadOnlyList<string>> Installs { get; } = [];

        public Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken)
        {
            Calls.Add(argv);
            if (argv is ["apt-cache", "policy", ..]) return Task.FromResult(new CommandResult(0, "x:\n  Installed: (none)\n  Candidate: 1.0\n", ""));
            if (argv is ["apt-get", "install", "-y", ..] && !argv.Contains("--download-only"))
            {
                Installs.Add(argv);
                return Task.FromResult(installs[Math.Min(Installs.Count - 1, installs.Length - 1)]);
            }
            return Task.FromResult(new CommandResult(0, "", ""));
        }
    }

    private static Plan PlanWith(HostRoot root, IResource resource)
    {
        var change = resource.Plan(HostReader.Read(root, resource.Needs));
        return new(Plan.CurrentFormatVersion, "p", root.Path, false, ImmutableSortedDictionary<string, string>.Empty,
            [change], [], [], [], [], [], [], [], null);
    }

    private static readonly CommandResult Locked = new(100, "", "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 812 (unattended-upgr)");

    [Test]
    public async Task A_held_dpkg_lock_is_waited_out_and_the_reason_shown()
    {
        using var dir = new TempDirectory();
        var root = HostRoot.Open(dir.Path);
        var runner = new AptRunner(Locked, Locked, new CommandResult(0, "", ""));
        var said = new List<string>();
        var executor = new Executor(root, runner, TimeProvider.System, said.Add, TimeSpan.FromMilliseconds(5));

        var result = await executor.ApplyAsync(PlanWith(root, new PackageResource("m", "x", present: true)), CancellationToken.None);

        Assert.That(runner.Installs, Has.Count.EqualTo(3));
        // The root has no lists: they are refreshed once, and apt is asked before anything is written.
        Assert.That(runner.Calls.Select(c => string.Join(' ', c.Take(2))).Take(3), Is.EqualTo(new[] { "apt-get update", "apt-cache policy", "apt-get -s" }));
        Assert.That(result.Changed, Is.EqualTo(1));
        Assert.That(said.Count(s => s.Contains("package manager is locked")), Is.EqualTo(2));
        Assert.That(File.Exists(dir.Path + "/usr/sbin/policy-rc.d"), Is.False, "the offline policy-rc.d is removed after the install");
    }

    [Test]
    public void A_command_that_is_not_retryable_runs_once_and_the_run_is_restored()
    {
        using var dir = new TempDirectory();
        var root = HostRoot.Open(dir.Path);
        dir.Write("etc/group", "root:x:0:\n");
        var runner = new ScriptedRunner(Locked);
        var executor = new Executor(root, runner, TimeProvider.System, _ => { }, TimeSpan.FromMilliseconds(5));

        Assert.That(async () => await executor.ApplyAsync(PlanWith(root, new GroupResource("m", "g")), CancellationToken.None),
            Throws.TypeOf<HardenException>().With.Property(nameof(HardenException.ExitCode)).EqualTo(ExitCodes.ApplyFailedRestored));
        Assert.That(runner.Calls, Has.Count.EqualTo(1));
        Assert.That(RunJournal.All(root).Single().Record.State, Is.EqualTo(RunState.FailedRestored));
    }

    [Test]
    public async Task Cancelling_mid_run_restores_and_keeps_the_first_error()
    {
        using var dir = new TempDirectory();
        var root = HostRoot.Open(dir.Path);
        dir.Write("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
        dir.Write("etc/group", "root:x:0:\n");
        dir.Write("etc/motd", "before\n");
        using var cts = new CancellationTokenSource();
        var first = new FileResource("m", "/etc/motd", "after\n", (UnixFileMode)420, "root", "root", null);
        var second = new FileResource("m", "/etc/issue", "x\n", (UnixFileMode)420, "root", "root", null);
        var host = HostReader.Read(root, first.Needs.Concat(second.Needs));
        var plan = new Plan(Plan.CurrentFormatVersion, "p", root.Path, false, ImmutableSortedDictionary<string, string>.Empty,
            [first.Plan(host), second.Plan(host)], [], [], [], [], [], [], [], null);
        var executor = new Executor(root, new ScriptedRunner(new CommandResult(0, "", "")), TimeProvider.System,
            line => { if (line.Contains("/etc/motd", StringComparison.Ordinal)) cts.Cancel(); });

        var error = await Assert.ThrowsAsync<HardenException>(async () => await executor.ApplyAsync(plan, cts.Token));
        Assert.That(error!.ExitCode, Is.EqualTo(ExitCodes.ApplyFailedRestored));
        Assert.That(error.Message, Does.Contain("interrupted"));
        Assert.That(File.ReadAllText(dir.Path + "/etc/motd"), Is.EqualTo("before\n"));
        Assert.That(File.Exists(dir.Path + "/etc/issue"), Is.False);
    }
}
