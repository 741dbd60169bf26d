namespace Harden.Execution;

/// <summary>
/// Gives every validator, handler and verification a time limit, with a line of progress every 30 s
/// while it runs: a check that never returns (a broken image, an NSS lookup that blocks, a FIFO among
/// sshd's includes) stops at the limit and fails the step, so apply restores the host and says which
/// program and which limit, instead of waiting forever in silence.
/// </summary>
public sealed class BoundedRunner(ICommandRunner inner, TimeSpan limit, Action<string> report) : ICommandRunner
{
    private static readonly TimeSpan Beat = TimeSpan.FromSeconds(30);

    public async Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(limit);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var done = new CancellationTokenSource();
        var beat = Task.Run(async () =>
        {
            using var ticks = new PeriodicTimer(Beat);
            try
            {
                while (await ticks.WaitForNextTickAsync(done.Token))
                    report($"    {argv[0]} still running ({clock.Elapsed.TotalSeconds:0} s of at most {limit.TotalSeconds:0} s, --program-timeout)…");
            }
            catch (OperationCanceledException)
            {
                // The program ended.
            }
        });
        try
        {
            return await inner.RunAsync(argv, timer.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new CommandResult(124, "", $"{argv[0]} did not finish within {limit.TotalSeconds:0} s and was stopped (apply --program-timeout raises the limit)");
        }
        finally
        {
            await done.CancelAsync();
            await beat;
        }
    }
}
