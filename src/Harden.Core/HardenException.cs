namespace Harden;

/// <summary>
/// Exit codes are part of the command contract: other tooling (cloud-init, CI, image builders)
/// branches on them, so each failure kind maps to exactly one.
/// </summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int Error = 1;
    public const int ChangesPending = 2;
    public const int LockoutRefused = 3;
    public const int ApplyFailedRestored = 4;
}

/// <summary>An error the user can act on; its message is shown as is, without a stack trace.</summary>
public class HardenException(string message, int exitCode = ExitCodes.Error, Exception? inner = null)
    : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
