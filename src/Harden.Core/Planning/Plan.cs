using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Harden.Planning;

[JsonConverter(typeof(JsonStringEnumConverter<ChangeAction>))]
public enum ChangeAction { Create, Update, Unchanged }

/// <summary>One file the plan creates, updates or leaves as it is. Carries the full desired content, so a saved plan can be applied later.</summary>
public sealed record FileChange(
    string Path,
    string Module,
    ChangeAction Action,
    string Reason,
    string BeforeSha256,
    string AfterSha256,
    string Content,
    string Mode,
    string Owner,
    string Group,
    uint Uid,
    uint Gid,
    string? Validator,
    string Diff);

/// <summary>A command apply runs before the handlers (create a group, install a package).</summary>
/// <param name="Touches">Files the command rewrites; apply backs them up first so rollback can undo it.</param>
public sealed record PlannedCommand(
    string Module,
    string Reason,
    ImmutableArray<string> Argv,
    ImmutableArray<string> Touches,
    bool Retryable);

/// <summary>A handler to run after files change; skipped ones say why.</summary>
public sealed record PlannedHandler(
    string Id,
    string Description,
    ImmutableArray<string> Argv,
    ImmutableArray<string> Modules,
    string? SkipReason,
    ImmutableArray<string> Touches);

/// <summary>A line elsewhere in the sshd configuration that sets a managed key to another value.</summary>
public sealed record SshdConflict(string File, int Line, string Key, string Value, string Wanted);

public sealed record SkippedModule(string Id, string Reason);

/// <summary>An effective setting to check after activation (e.g. from <c>sshd -T</c>).</summary>
public sealed record ExpectedSetting(string Source, string Key, string Value);

/// <summary>
/// What apply would do, as data: viewable as text or JSON, savable with <c>--out</c>, and
/// applicable later as long as the host still matches the recorded before-digests.
/// </summary>
public sealed record Plan(
    int FormatVersion,
    string Profile,
    string Root,
    bool Live,
    ImmutableSortedDictionary<string, string> Variables,
    ImmutableArray<FileChange> Files,
    ImmutableArray<PlannedCommand> Commands,
    ImmutableArray<PlannedHandler> Handlers,
    ImmutableArray<string> Validators,
    ImmutableArray<SshdConflict> Conflicts,
    ImmutableArray<ExpectedSetting> Expected,
    ImmutableArray<SkippedModule> SkippedModules,
    ImmutableArray<string> Warnings,
    string? LockoutRisk = null)
{
    public const int CurrentFormatVersion = 1;

    [JsonIgnore]
    public IEnumerable<FileChange> Changes => Files.Where(f => f.Action != ChangeAction.Unchanged);

    [JsonIgnore]
    public bool HasChanges => Changes.Any() || !Commands.IsEmpty;
}
