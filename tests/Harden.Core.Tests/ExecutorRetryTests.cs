using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;
using Harden.Planning;

namespace Harden.Core.Tests;

/// <summary>Unit test of the executor's retry policy with a scripted command runner.</summary>
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

    private static Plan PlanWith(PlannedCommand command) => new(1, "p", "/img", false,
        ImmutableSortedDictionary<string, string>.Empty, [], [command], [], [], [], [], [], []);

    private static readonly CommandResult Locked = new(100, "", "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 812 (unattended-upgr)");

    [Test]
    public async Task A_held_dpkg_lock_is_waited_out_and_the_reason_shown()
    {
        using var dir = new TempDirectory();
        var runner = new ScriptedRunner(Locked, Locked, new CommandResult(0, "", ""));
        var said = new List<string>();
        var executor = new Executor(HostRoot.Open(dir.Path), runner, TimeProvider.System, said.Add, TimeSpan.FromMilliseconds(5));

        var result = await executor.ApplyAsync(PlanWith(new PlannedCommand("m", "install x", ["apt-get", "install", "-y", "x"], [], Retryable: true)), CancellationToken.None);

        Assert.That(runner.Calls, Has.Count.EqualTo(3));
        Assert.That(result.CommandsRun, Is.EqualTo(1));
        Assert.That(said.Count(s => s.Contains("package manager is locked")), Is.EqualTo(2));
    }

    [Test]
    public void A_command_that_is_not_retryable_runs_once_and_the_run_is_restored()
    {
        using var dir = new TempDirectory();
        var runner = new ScriptedRunner(Locked);
        var executor = new Executor(HostRoot.Open(dir.Path), runner, TimeProvider.System, _ => { }, TimeSpan.FromMilliseconds(5));

        Assert.That(async () => await executor.ApplyAsync(PlanWith(new PlannedCommand("m", "create group", ["groupadd", "g"], [], Retryable: false)), CancellationToken.None),
            Throws.TypeOf<HardenException>().With.Property(nameof(HardenException.ExitCode)).EqualTo(ExitCodes.ApplyFailedRestored));
        Assert.That(runner.Calls, Has.Count.EqualTo(1));
    }
}
