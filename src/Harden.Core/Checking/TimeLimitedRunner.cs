using Harden.Execution;

namespace Harden.Checking;

/// <summary>
/// check and evidence only read, so no program they start may hold them up: one that runs past the
/// limit (sshd -T reading a FIFO someone put among its includes, lastb on a FIFO btmp) is stopped
/// and recorded as timed out (exit 124, like timeout(1)), never waited on forever.
/// </summary>
public sealed class TimeLimitedRunner(ICommandRunner inner, TimeSpan limit) : ICommandRunner
{
    public async Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(limit);
        try
        {
            return await inner.RunAsync(argv, timer.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new CommandResult(124, "", $"{argv[0]} did not finish within {limit.TotalSeconds:0} s and was stopped");
        }
    }
}
