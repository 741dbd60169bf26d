using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;

namespace Harden.Resources;

/// <summary>What a resource needs the host reader to fetch before it can plan.</summary>
/// <summary>KernelAudit: the audit rules loaded in the running kernel (live hosts only).</summary>
public enum HostQueryKind { File, Directory, Service, KernelAudit, PrivilegedPrograms, Entry, KernelSetting, FolderFiles, HumanHomes, FolderNames }

public sealed record HostQuery(HostQueryKind Kind, string Target);

/// <summary>
/// Everything harden manages. A resource plans in pure code from <see cref="HostSnapshot"/>, applies
/// only through <see cref="IHostEffects"/>, and is undone from its journal entry by its kind's
/// restorer (see <see cref="ResourceKinds"/>), so a crashed run can be undone by a later process
/// that never saw the profile.
/// </summary>
public interface IResource
{
    Address Address { get; }
    string Module { get; }
    IEnumerable<HostQuery> Needs { get; }

    /// <summary>Resources that must be applied first (a directory owned by a group waits for the group).</summary>
    IEnumerable<Address> DependsOn { get; }

    /// <summary>Pure: the same host always gives the same change.</summary>
    Change Plan(HostSnapshot host);

    /// <summary>Makes the change; returns the state reached (what rollback will expect to find).</summary>
    Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct);

    /// <summary>
    /// For a compliance report: what the host has against what the profile wants, read the same way
    /// planning reads it. Kinds whose effective state needs a live tool (sshd -T, auditctl -l) extend
    /// this in the check command; the default compares the observed state.
    /// </summary>
    Evidence Check(HostSnapshot host)
    {
        var change = Plan(host);
        return new Evidence(Address, Module, !change.IsChange, change.Before, change.After, change.IsChange ? change.Reason : "");
    }
}

/// <summary>One resource's compliance evidence: passed or not, what was found and what was wanted.</summary>
public sealed record Evidence(Address Address, string Module, bool Passed,
    ImmutableSortedDictionary<string, string>? Observed, ImmutableSortedDictionary<string, string>? Wanted, string Finding);

/// <summary>What restoring one journal entry came to.</summary>
/// <param name="Kept">Not restored, and why (an admin changed it since the run): rollback names it and fails unless forced.</param>
/// <param name="Note">Left in place on purpose (a group someone else now uses, a folder with files in it): said, not a failure.</param>
public sealed record RestoreOutcome(bool Restored, string? Kept = null, string Diff = "", string? Note = null)
{
    public static readonly RestoreOutcome Done = new(true);
    public static readonly RestoreOutcome Nothing = new(false);
}

/// <summary>One kind's inverse: put the resource back as the journal says it was before the run.</summary>
public delegate Task<RestoreOutcome> Restorer(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct);

/// <summary>
/// A resource that changes the text of one file: it can say what the file would become, so checks can
/// run on a staged copy before the real file is touched.
/// </summary>
public interface ITextEdit
{
    string Path { get; }
    string? Validator { get; }
    string Edit(string current);
}
