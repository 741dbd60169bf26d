using System.Collections.Immutable;

namespace Harden.Profiles;

/// <summary>A file a module owns: rendered from <see cref="Template"/> and written to <see cref="Path"/>.</summary>
public sealed record ManagedFile(
    string Path,
    string Template,
    UnixFileMode Mode,
    string Owner,
    string Group,
    string? Validator);

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
    ImmutableArray<string> Touches);

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
    string? Verify);

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
}
