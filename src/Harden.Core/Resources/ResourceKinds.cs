using System.Collections.Immutable;

namespace Harden.Resources;

/// <summary>
/// Every kind harden knows, with its restorer. A journal names resources by address, so a later
/// process can undo a run (after a crash, or with another profile) knowing only this table.
/// </summary>
public static class ResourceKinds
{
    public static readonly ImmutableDictionary<string, Restorer> Restorers = new Dictionary<string, Restorer>
    {
        [PackageResource.Kind] = PackageResource.RestoreAsync,
        [GroupResource.Kind] = GroupResource.RestoreAsync,
        [UserResource.Kind] = UserResource.RestoreAsync,
        [MemberResource.Kind] = MemberResource.RestoreAsync,
        [DirectoryResource.Kind] = DirectoryResource.RestoreAsync,
        [FileResource.Kind] = FileResource.RestoreAsync,
        // A filtered file is undone like a whole file: from the run's backup, unless changed since.
        [LinesResource.Kind] = FileResource.RestoreAsync,
        [KeyResource.Kind] = KeyResource.RestoreAsync,
        [BlockResource.Kind] = BlockResource.RestoreAsync,
        [SshdConflictResource.GlobalKind] = SshdConflictResource.RestoreAsync,
        [SshdConflictResource.MatchKind] = SshdConflictResource.RestoreAsync,
        [ServiceResource.Kind] = ServiceResource.RestoreAsync,
        [AccountAgingResource.Kind] = AccountAgingResource.RestoreAsync,
        [AuditKernelResource.Kind] = AuditKernelResource.RestoreAsync,
        [ModeResource.Kind] = ModeResource.RestoreAsync,
        [SysctlResource.Kind] = SysctlResource.RestoreAsync,
        [PasswordLockResource.Kind] = PasswordLockResource.RestoreAsync,
    }.ToImmutableDictionary();

    public static Restorer RestorerFor(Address address) =>
        Restorers.TryGetValue(address.Kind, out var restorer)
            ? restorer
            : throw new HardenException($"the journal names a resource of unknown kind '{Profiles.VariableDefinition.Printable(address.Kind)}'");

    /// <summary>The file a resource lives in, for kinds that are (part of) a file; null for the others.</summary>
    public static string? FileOf(Address address) => address.Kind switch
    {
        FileResource.Kind or LinesResource.Kind => address.Key,
        KeyResource.Kind or BlockResource.Kind when address.Key.Contains('#') => TextFile.PathAndName(address).Path,
        SshdConflictResource.GlobalKind or SshdConflictResource.MatchKind => address.Key[..Math.Max(0, address.Key.LastIndexOf(':'))],
        _ => null,
    };

    /// <summary>
    /// Apply order among kinds: packages and groups before what uses them, files before the lines
    /// that conflict with them, services last, removals after everything that might still need them.
    /// </summary>
    public static int Phase(IResource resource) => resource switch
    {
        PackageResource { Present: true } => 0,
        GroupResource or UserResource => 1,
        MemberResource => 2,
        DirectoryResource => 3,
        FileResource or KeyResource or BlockResource or LinesResource => 4,
        SshdConflictResource or ModeResource => 5,
        ServiceResource or AccountAgingResource or SysctlResource or PasswordLockResource => 6,
        _ => 7,
    };
}
