using Harden.Execution;
using Harden.Host;

namespace Harden.Core.Tests;

/// <summary>The one door to programs, with real processes: a stop request must not kill a program half-way.</summary>
public class CommandRunnerTests
{
    [Test]
    public void A_program_that_only_reads_is_stopped_at_once()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.That(async () => await new CliWrapCommandRunner(HostRoot.Open("/")).RunAsync(["sleep", "30"], stop.Token),
            Throws.InstanceOf<OperationCanceledException>());
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
    }

    [Test]
    public async Task A_stop_request_lets_the_running_program_finish()
    {
        // What a Ctrl-C during usermod looks like to the runner: the token fires while the program runs.
        var dir = Directory.CreateTempSubdirectory("harden-runner-");
        try
        {
            var marker = Path.Combine(dir.FullName, "finished");
            using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
            using var grace = StopGrace.For(stop.Token);
            var result = await new CliWrapCommandRunner(HostRoot.Open("/"))
                .RunAsync(["sh", "-c", $"sleep 0.5 && echo done > '{marker}' && echo done"], grace.Token);

            Assert.That(stop.IsCancellationRequested, "the stop came while the program ran");
            Assert.That(result.ExitCode, Is.Zero, result.Message);
            Assert.That(result.StandardOutput.Trim(), Is.EqualTo("done"));
            Assert.That(File.ReadAllText(marker).Trim(), Is.EqualTo("done"), "the program did its work to the end");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Test]
    public async Task A_read_only_program_that_runs_past_the_limit_is_stopped_and_recorded_as_timed_out()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = await new Harden.Checking.TimeLimitedRunner(new CliWrapCommandRunner(HostRoot.Open("/")), TimeSpan.FromSeconds(1)).RunAsync(["sleep", "30"], CancellationToken.None);
        Assert.That(result.ExitCode, Is.EqualTo(124));
        Assert.That(result.StandardError, Does.Contain("sleep did not finish within 1 s"));
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), "stopped, not waited on");
        var quick = await new Harden.Checking.TimeLimitedRunner(new CliWrapCommandRunner(HostRoot.Open("/")), TimeSpan.FromSeconds(30)).RunAsync(["true"], CancellationToken.None);
        Assert.That(quick.ExitCode, Is.Zero);
    }
}
