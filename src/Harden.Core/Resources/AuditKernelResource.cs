using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;

namespace Harden.Resources;

/// <summary>
/// The audit rules the kernel has loaded, against the compiled <c>/etc/audit/audit.rules</c>, on a
/// live host (<c>auditctl -l</c>). After a reboot with a watched folder missing, or after someone ran
/// <c>auditctl -D</c>, the files are right and the kernel is not: that is drift, and the module's
/// handler (<c>augenrules --load</c>) loads them again. When the kernel's rules are immutable
/// (<c>-e 2</c>) nothing can load before the next boot, and the plan says so. Offline there is no
/// kernel to compare. Nothing to restore: the rules follow the files, and rollback's handler reloads them.
/// </summary>
public sealed class AuditKernelResource(string module) : IResource
{
    public const string Kind = "audit-kernel";
    public const string CompiledRules = "/etc/audit/audit.rules";

    public Address Address { get; } = new(Kind, CompiledRules);
    public string Module => module;
    public IEnumerable<HostQuery> Needs => [new(HostQueryKind.File, CompiledRules), new(HostQueryKind.KernelAudit, CompiledRules)];
    public IEnumerable<Address> DependsOn => [];

    public Change Plan(HostSnapshot host)
    {
        if (host.KernelAudit is not { } kernel) return Unchanged(null);
        var compiled = Rules(TextFile.Read(host.File(CompiledRules), CompiledRules));
        var missing = Missing(compiled, kernel.Rules);
        var before = State.Of(("loaded", kernel.Rules.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (kernel.Rules.Length >= compiled.Count && missing.Count == 0) return Unchanged(before);
        var what = $"the kernel has {kernel.Rules.Length} of the {compiled.Count} audit rules in {CompiledRules} loaded" +
            (missing.Count > 0 ? $" (missing: {string.Join(", ", missing)})" : "");
        var reason = kernel.Immutable
            ? $"{what}; the loaded rules are immutable (-e 2), so they load only at the next boot: reboot"
            : $"{what}; augenrules --load loads them";
        return new Change(Address, module, ChangeAction.Update, before,
            State.Of(("loaded", compiled.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))), reason, "") { Resource = this };
    }

    private Change Unchanged(ImmutableSortedDictionary<string, string>? state) =>
        new(Address, module, ChangeAction.NoOp, state, state, "", "") { Resource = this };

    /// <summary>Nothing to write: the module's handler loads the compiled rules, and apply checks the kernel afterwards.</summary>
    public Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct) =>
        Task.FromResult(change.After);

    public static Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct) =>
        Task.FromResult(RestoreOutcome.Nothing);

    /// <summary>The rule lines of an audit rules file or of <c>auditctl -l</c>: watches and syscall rules, not controls (-D, -b, -e).</summary>
    public static List<string> Rules(string text) =>
        text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("-w ", StringComparison.Ordinal) || l.StartsWith("-a ", StringComparison.Ordinal)).ToList();

    /// <summary>
    /// What the compiled rules have and the kernel's do not: each watch by its path (auditctl -l
    /// prints watches as written), and each key (syscall rules come back reordered, so by key).
    /// </summary>
    public static List<string> Missing(IReadOnlyList<string> compiled, IReadOnlyList<string> kernel)
    {
        var watches = kernel.Select(WatchOf).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var keys = kernel.Select(KeyOf).OfType<string>().ToHashSet(StringComparer.Ordinal);
        return compiled.Select(WatchOf).OfType<string>().Where(w => !watches.Contains(w)).Select(w => $"watch {w}")
            .Concat(compiled.Select(KeyOf).OfType<string>().Where(k => !keys.Contains(k)).Select(k => $"key {k}"))
            .Distinct().ToList();
    }

    private static string? WatchOf(string rule) =>
        rule.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["-w", var path, ..] ? path.TrimEnd('/') : null;

    /// <summary>A rule's key: <c>-k KEY</c> in files, <c>-F key=KEY</c> as auditctl -l prints syscall rules.</summary>
    public static string? KeyOf(string rule)
    {
        var tokens = rule.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < tokens.Length - 1; i++)
        {
            if (tokens[i] == "-k") return tokens[i + 1];
            if (tokens[i] == "-F" && tokens[i + 1].StartsWith("key=", StringComparison.Ordinal)) return tokens[i + 1]["key=".Length..];
        }
        return null;
    }
}
