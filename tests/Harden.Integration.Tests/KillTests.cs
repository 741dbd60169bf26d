using System.Diagnostics;

namespace Harden.Integration.Tests;

/// <summary>
/// SIGKILL at points spread over a whole apply, and over a whole rollback: whatever the moment, a
/// rollback afterwards leaves the root's /etc exactly as before, and no temporary file is left.
/// </summary>
public sealed class KillTests : RootTest
{
    private const int Points = 30;

    private static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = "/", RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[HardenCli.Assembly, .. args]) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        // Drain the pipes so a full pipe never stalls the run.
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        return process;
    }

    private int RunCount() => Directory.Exists(Root.Map("/var/lib/harden/runs")) ? Directory.GetDirectories(Root.Map("/var/lib/harden/runs")).Length : 0;

    /// <summary>
    /// Waits until the run's own work starts: for apply, when its run folder appears (after planning);
    /// for rollback, when it holds the run lock (it writes its pid beside it).
    /// </summary>
    private async Task WaitForStartAsync(Process process, bool apply, int runsBefore)
    {
        if (apply)
        {
            while (!process.HasExited && RunCount() == runsBefore) await Task.Delay(1);
            return;
        }
        var owner = Root.Map("/var/lib/harden/lock.owner");
        var pid = process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        while (!process.HasExited)
        {
            try
            {
                if (File.Exists(owner) && (await File.ReadAllTextAsync(owner)).Trim() == pid) return;
            }
            catch (IOException)
            {
                // being replaced right now
            }
            await Task.Delay(2);
        }
    }

    /// <summary>How long the run's own work takes, from taking the lock to exit.</summary>
    private async Task<TimeSpan> TimeAsync(params string[] args)
    {
        var runs = RunCount();
        using var process = Start(args);
        await WaitForStartAsync(process, args[0] == "apply", runs);
        var clock = Stopwatch.StartNew();
        await process.WaitForExitAsync();
        Assert.That(process.ExitCode, Is.Zero, $"harden {string.Join(' ', args)} without a kill");
        return clock.Elapsed;
    }

    /// <summary>Kills at a point of the run's work, then waits until nothing runs inside the root any more (a chrooted child finishes on its own).</summary>
    private async Task KillAtAsync(TimeSpan delay, params string[] args)
    {
        var runs = RunCount();
        using var process = Start(args);
        await WaitForStartAsync(process, args[0] == "apply", runs);
        await Task.Delay(delay);
        if (!process.HasExited) process.Kill();
        await process.WaitForExitAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (LiveSshd.ProcessesInRoot(Root).Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(50);
    }

    private async Task RollBackEverythingAsync(string why)
    {
        // Until nothing is left: a killed rollback leaves its run to finish; "nothing to roll back" ends it.
        for (var i = 0; i < 3; i++)
        {
            var run = await Harden("rollback", "--root", Root.Path, "--yes");
            if (run.Error.Contains("nothing to roll back", StringComparison.Ordinal)) return;
            Assert.That(run.ExitCode, Is.Zero, $"{why}: {run}");
        }
    }

    /// <summary>Runs whose manifest says the kill caught them half-way.</summary>
    private int Unfinished() => Directory.Exists(Root.Map("/var/lib/harden/runs"))
        ? Directory.GetFiles(Root.Map("/var/lib/harden/runs"), "manifest.json", SearchOption.AllDirectories)
            .Count(m => File.ReadAllText(m).Contains("\"state\": \"in-progress\"", StringComparison.Ordinal))
        : 0;

    private void AssertNoTemporaryFiles(string why)
    {
        var stray = new[] { "/etc", "/var/lib/harden", "/var/data" }.Select(Root.Map).Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFileSystemEntries(d, "*.harden-*", SearchOption.AllDirectories))
            .Where(p => !Path.GetFileName(p).Contains(".harden-saved-", StringComparison.Ordinal));
        Assert.That(stray, Is.Empty, why);
    }

    [Test]
    public async Task SIGKILL_anywhere_in_apply_is_undone_exactly_by_rollback()
    {
        var args = await WithOperatorAsync();
        string[] apply = ["apply", "--profile", "debian-hipaa", "--yes", .. args];
        var before = await EtcAsync();
        var whole = await TimeAsync(apply);
        await RollBackEverythingAsync("after the timing run");
        var caughtMidRun = 0;

        for (var i = 0; i < Points; i++)
        {
            var at = whole * ((i + 0.5) / Points);
            await KillAtAsync(at, apply);
            caughtMidRun += Unfinished();
            var why = $"apply killed at {at.TotalMilliseconds:0} ms of {whole.TotalMilliseconds:0}";
            await RollBackEverythingAsync(why);
            AssertUnchanged(before, await EtcAsync());
            AssertNoTemporaryFiles(why);
        }
        TestContext.Out.WriteLine($"{caughtMidRun} of {Points} kills caught apply with its run in progress");
        Assert.That(caughtMidRun, Is.GreaterThanOrEqualTo(Points / 2), "the kills must land inside runs, not only before or after them");
    }

    [Test]
    public async Task SIGKILL_anywhere_in_rollback_is_finished_by_the_next_rollback()
    {
        var args = await WithOperatorAsync();
        string[] apply = ["apply", "--profile", "debian-hipaa", "--yes", .. args];
        string[] rollback = ["rollback", "--root", Root.Path, "--yes"];
        var before = await EtcAsync();
        Assert.That((await Harden(apply)).ExitCode, Is.Zero);
        var whole = await TimeAsync(rollback);

        for (var i = 0; i < Points; i++)
        {
            Assert.That((await Harden(apply)).ExitCode, Is.Zero);
            var at = whole * ((i + 0.5) / Points);
            await KillAtAsync(at, rollback);
            var why = $"rollback killed at {at.TotalMilliseconds:0} ms of {whole.TotalMilliseconds:0}";
            await RollBackEverythingAsync(why);
            AssertUnchanged(before, await EtcAsync());
            AssertNoTemporaryFiles(why);
            Assert.That((await Harden(["plan", "--profile", "debian-hipaa", "--detailed-exitcode", .. args])).ExitCode, Is.EqualTo(2), why);
        }
    }
}
