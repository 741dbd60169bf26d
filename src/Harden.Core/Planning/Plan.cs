using System.Collections.Immutable;
using System.Text.Json.Serialization;
using Harden.Host;
using Harden.Resources;

namespace Harden.Planning;

/// <summary>A handler to run after a module's resources change; skipped ones say why.</summary>
public sealed record PlannedHandler(
    string Id,
    string Description,
    ImmutableArray<string> Argv,
    ImmutableArray<string> Modules,
    string? SkipReason,
    ImmutableArray<string> Touches);

public sealed record SkippedModule(string Id, string Reason);

/// <summary>An effective setting to check after activation (e.g. from <c>sshd -T</c>).</summary>
public sealed record ExpectedSetting(string Source, string Key, string Value);

/// <summary>
/// What apply would do, as data: one list of changes (every resource, with its action), the checks
/// and handlers around them. Viewable as text or JSON, savable with <c>--out</c>: apply then plans
/// again from <see cref="Request"/> and refuses unless the new plan has the very same effect.
/// </summary>
public sealed record Plan(
    int FormatVersion,
    string Profile,
    string Root,
    bool Live,
    ImmutableSortedDictionary<string, string> Variables,
    ImmutableArray<Change> Changes,
    ImmutableArray<PlannedHandler> Handlers,
    ImmutableArray<string> Validators,
    ImmutableArray<ExpectedSetting> Expected,
    ImmutableArray<string> SshdConnections,
    ImmutableArray<SkippedModule> SkippedModules,
    ImmutableArray<ManagedRecord> NoLongerManaged,
    ImmutableArray<string> Warnings,
    string? UnfinishedRun,
    string? LockoutRisk = null)
{
    public const int CurrentFormatVersion = 2;

    /// <summary>How this plan was asked for, so a saved plan can be checked against a fresh one.</summary>
    public PlanRequest? Request { get; init; }

    /// <summary>The root's release as os-release says it (PRETTY_NAME, ID and VERSION_ID).</summary>
    public string? Platform { get; init; }

    /// <summary>Who and what the plan affects (accounts that lose SSH or cron, passwords, services, packages): see <see cref="Access.AccessModel"/>.</summary>
    public Access.Impact? Impact { get; init; }

    /// <summary>True when no profile was named and harden picked the shipped one for <see cref="Platform"/>.</summary>
    public bool ProfileDetected { get; init; }

    [JsonIgnore]
    public IEnumerable<Change> Pending => Changes.Where(c => c.IsChange);

    [JsonIgnore]
    public bool HasChanges => Changes.Any(c => c.IsChange);

    public int Count(ChangeAction action) => Changes.Count(c => c.Action == action);
}
