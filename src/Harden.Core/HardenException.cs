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
    /// <summary>A restore or rollback could not put everything back; the message lists what is left and the command that finishes it.</summary>
    public const int RestoreIncomplete = 5;
    /// <summary>rollback restored everything except resources changed since the run (named, with a diff); --force puts them back too.</summary>
    public const int RollbackKeptChanges = 6;
    /// <summary>The files are in place, but the kernel's audit rules are immutable (-e 2) until the next boot: reboot to finish.</summary>
    public const int RebootNeeded = 7;
}

/// <summary>An error the user can act on; its message is shown as is, without a stack trace.</summary>
public class HardenException(string message, int exitCode = ExitCodes.Error, Exception? inner = null)
    : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
