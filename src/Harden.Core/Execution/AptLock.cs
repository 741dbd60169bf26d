using Polly;
using Polly.Retry;

namespace Harden.Execution;

/// <summary>
/// Waits out the apt/dpkg lock another process holds (unattended-upgrades holds it for minutes at a
/// cloud image's first boot), up to a deadline, saying who holds it and for how long it has waited.
/// Only for package commands, which fail without touching anything while the lock is held.
/// </summary>
public static class AptLock
{
    private static readonly string[] HeldSignatures = ["Could not get lock", "dpkg frontend lock", "is another process using it", "dpkg status database is locked"];

    /// <summary>How long apply waits for the lock by default: long enough for a first boot's upgrades.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(30);

    public static bool Held(CommandResult result) =>
        !result.Succeeded && HeldSignatures.Any(s => result.StandardError.Contains(s, StringComparison.Ordinal));

    /// <param name="delay">Between tries (tests shorten it).</param>
    public static ResiliencePipeline<CommandResult> Pipeline(Action<string> report, TimeSpan timeout, TimeSpan delay, TimeProvider time)
    {
        var started = time.GetTimestamp();
        return new ResiliencePipelineBuilder<CommandResult> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<CommandResult>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result is { } r && Held(r) && time.GetElapsedTime(started) + delay <= timeout),
                MaxRetryAttempts = int.MaxValue,
                Delay = delay,
                BackoffType = DelayBackoffType.Constant,
                OnRetry = args =>
                {
                    var holder = args.Outcome.Result?.StandardError.Split('\n').FirstOrDefault(l => l.Contains("held by", StringComparison.Ordinal))?.Trim();
                    report($"  the package manager is locked by another process; retry {args.AttemptNumber + 1} in {delay.TotalSeconds:0}s " +
                           $"(waited {time.GetElapsedTime(started).TotalSeconds:0} s of {timeout.TotalSeconds:0} s, --package-lock-timeout){(holder is null ? "" : $": {holder}")}");
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }
}
