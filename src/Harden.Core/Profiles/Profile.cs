using System.Collections.Immutable;

namespace Harden.Profiles;

/// <summary>
/// A file a module owns: rendered from <see cref="Template"/> and written to <see cref="Path"/>.
/// <see cref="Path"/> may name variables (<c>{{ banner_path }}</c>); it is rendered and checked with them.
/// <see cref="Sensitive"/> keeps the content out of plans: they carry a digest instead.
/// </summary>
public sealed record ManagedFile(
    string Path,
    string Template,
    UnixFileMode Mode,
    string Owner,
    string Group,
    string? Validator,
    bool Sensitive = false)
{
    /// <summary>
    /// An allow list that keeps who uses a spool today (cron.allow keeps every crontab's owner): the
    /// owners of the jobs in this folder are added below the rendered names at plan time.
    /// </summary>
    public string? KeepOwnersOf { get; init; }

    /// <summary>The variable naming accounts meant to lose access: their jobs do not keep them listed.</summary>
    public string? KeepOwnersExceptFrom { get; init; }

    /// <summary>The template may write @SSHD_PORTS@, filled at plan time with the ports sshd listens on.</summary>
    public bool SshdPorts { get; init; }
}

/// <summary>One key in a file the distribution owns (login.defs, auditd.conf): only that line is edited.</summary>
/// <param name="Separator">Between key and value as written: " " (login.defs) or " = " (auditd.conf).</param>
/// <param name="Value">The wanted value; may name variables.</param>
public sealed record ManagedKey(string Path, string Key, string Value, string Separator);

/// <summary>A block of lines between harden's markers in a file someone else owns.</summary>
/// <param name="Position">"top" (before everything, e.g. ahead of sshd's Include and Match) or "end".</param>
public sealed record ManagedBlock(string Path, string Template, string Position, string? Validator);

/// <summary>Data lines of a file whose numeric <see cref="Field"/> (1-based) is below <see cref="Minimum"/> are removed; may name variables.</summary>
public sealed record ManagedFilter(string Path, int Field, string Minimum);

/// <summary>A directory with owner, group and mode (setgid allowed). <see cref="Path"/> may be a <c>{{ list }}</c> variable.</summary>
public sealed record ManagedDirectory(string Path, string Owner, string Group, UnixFileMode Mode)
{
    /// <summary>A mode that names a variable (<c>"{{ phi_directory_mode }}"</c>), rendered and checked as octal.</summary>
    public string? ModeTemplate { get; init; }

    /// <summary>Only make the folder when it is missing; an existing one is left exactly as it is.</summary>
    public bool CreateOnly { get; init; }
}

/// <summary>
/// Password aging for accounts that exist already (human accounts, plus the users a list variable
/// names); each value may name variables and must render to a whole number of days.
/// </summary>
/// <param name="GraceDays">Days an account whose password is already too old keeps it (a template; null: none).</param>
/// <param name="AutomationFrom">The variable naming automation accounts, which aging leaves alone unless listed in ExtraUsersFrom.</param>
/// <param name="PeopleFrom">The variable naming people (the PHI group's SSH members): a person with NOPASSWD sudo is still aged.</param>
public sealed record ManagedAging(string MinDays, string MaxDays, string WarnDays, string? ExtraUsersFrom, string? GraceDays = null, string? AutomationFrom = null,
    string? PeopleFrom = null);

/// <summary>The most an existing file or folder may allow (bits beyond <see cref="MaxMode"/> are removed); a missing one is left alone.</summary>
public sealed record ManagedPermission(string Path, UnixFileMode MaxMode);

/// <summary>A systemd unit that must be enabled, disabled or masked.</summary>
/// <param name="Start">On a live host, also start (or stop) it now; false leaves starting to a handler (the firewall's timed loader).</param>
public sealed record ManagedService(string Name, string State, bool Start = true);

/// <summary>
/// What runs after a module's files change. <see cref="Run"/> is for a live host; under an offline
/// <c>--root</c> the <see cref="Offline"/> form runs through chroot instead, and a handler with no
/// offline form that is <see cref="LiveOnly"/> (a service reload) is skipped and reported.
/// <see cref="Touches"/> names files the handler itself rewrites (augenrules' audit.rules), so a
/// run can back them up and rollback can leave them exactly as they were.
/// </summary>
public sealed record Handler(
    string Id,
    string Description,
    ImmutableArray<string> Run,
    ImmutableArray<string> Offline,
    bool LiveOnly,
    ImmutableArray<string> Touches)
{
    /// <summary>A program the handler needs on the target (update-grub): without it the handler is skipped and the plan says why.</summary>
    public string? RequiresPath { get; init; }
}

/// <summary>One control area of a profile, with the HIPAA citations it serves.</summary>
public sealed record Module(
    string Id,
    string Title,
    ImmutableArray<string> Citations,
    ImmutableArray<ManagedFile> Files,
    ImmutableArray<string> Packages,
    string? GroupsFrom,
    string? MembersFrom,
    ImmutableArray<string> Requires,
    ImmutableArray<string> Handlers,
    string? Verify)
{
    public ImmutableArray<ManagedKey> Keys { get; init; } = [];
    public ImmutableArray<ManagedBlock> Blocks { get; init; } = [];
    public ImmutableArray<ManagedDirectory> Directories { get; init; } = [];
    public ImmutableArray<string> AbsentPackages { get; init; } = [];
    public ImmutableArray<ManagedService> Services { get; init; } = [];
    public ManagedAging? AccountAging { get; init; }

    /// <summary>A names variable listing service accounts to create (system users, no login) if missing.</summary>
    public string? SystemUsersFrom { get; init; }

    /// <summary>Files the module relies on but does not write (a password file): plan warns when one is missing or readable by others.</summary>
    public ImmutableArray<string> PrivateFiles { get; init; } = [];

    public ImmutableArray<ManagedFilter> Filters { get; init; } = [];

    public ImmutableArray<ManagedPermission> Permissions { get; init; } = [];

    /// <summary>A names variable listing more packages that must be absent (services a PHI server should not run).</summary>
    public string? AbsentPackagesFrom { get; init; }

    /// <summary>Variables that turn the module off when set (a flag that is on, a non-empty value): <c>allow_ftp</c>.</summary>
    public ImmutableArray<string> Unless { get; init; } = [];
}

public sealed record Profile(
    string Name,
    string Description,
    string Platform,
    string Origin,
    ImmutableArray<string> Lineage,
    ImmutableArray<VariableDefinition> Variables,
    ImmutableArray<Module> Modules,
    ImmutableDictionary<string, Handler> Handlers)
{
    public VariableDefinition? FindVariable(string name) => Variables.FirstOrDefault(v => v.Name == name);

    /// <summary>Variable defaults for one release ("debian 11"), over the general defaults and under --set.</summary>
    public ImmutableDictionary<string, ImmutableDictionary<string, string>> ReleaseDefaults { get; init; } =
        ImmutableDictionary<string, ImmutableDictionary<string, string>>.Empty;

    /// <summary>The releases ("ID VERSION_ID" from os-release) the profile is made for; empty for any.</summary>
    public ImmutableArray<string> Supports { get; init; } = [];

    /// <summary>Whether a host's os-release is one this profile supports ("debian 12" matches VERSION_ID 12 and 12.x).</summary>
    public bool Supported(Host.OsRelease release) => Supports.IsEmpty || Supports.Any(release.Is);
}

/// <summary>The names a profile may use for checks, so a typo is a load error rather than a silent no-op.</summary>
public static class KnownNames
{
    public static readonly ImmutableArray<string> Validators = ["sshd", "rsyslog", "audit", "shell", "sudoers", "chrony", "nft", "systemd"];
    public static readonly ImmutableArray<string> Verifiers = ["sshd", "auditctl", "sysctl", "accounts", "apt-sources", "homes", "apparmor"];
    public static readonly ImmutableArray<string> ServiceStates = ["enabled", "disabled", "masked"];
    public static readonly ImmutableArray<string> BlockPositions = ["top", "end"];
}
