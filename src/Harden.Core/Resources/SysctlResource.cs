using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;

namespace Harden.Resources;

/// <summary>
/// One kernel setting in the running kernel (<c>/proc/sys</c>), on a live host: the drop-in in
/// <c>/etc/sysctl.d</c> sets it at boot, this resource sets it now (<c>sysctl -w</c>) and remembers the
/// value it found, so rollback puts that value back; removing the drop-in alone would leave the
/// kernel as harden set it. Offline there is no kernel: the file is all there is.
/// </summary>
public sealed class SysctlResource(string module, string key, string value) : IResource
{
    public const string Kind = "sysctl";

    public Address Address { get; } = new(Kind, key);
    public string Module => module;
    public string Key => key;
    public string Value => value;
    public IEnumerable<HostQuery> Needs => [new(HostQueryKind.KernelSetting, key)];
    public IEnumerable<Address> DependsOn => [];

    public Change Plan(HostSnapshot host)
    {
        if (!host.IsLive) return new Change(Address, module, ChangeAction.NoOp, null, null, "") { Resource = this };
        if (host.KernelSetting(key) is not { } now)
            return new Change(Address, module, ChangeAction.NoOp, null, null, $"{key} does not exist in this kernel; left to the file") { Resource = this };
        var before = State.Of(("value", now));
        if (Same(now, value)) return new Change(Address, module, ChangeAction.NoOp, before, before, "") { Resource = this };
        if (AtLeastAsStrict(key, now, value))
            return new Change(Address, module, ChangeAction.NoOp, before, before, $"{now} is already stricter than {Normal(value)}; kept") { Resource = this };
        return new Change(Address, module, ChangeAction.Update, before, State.Of(("value", Normal(value))), $"{now} -> {Normal(value)} in the running kernel") { Resource = this };
    }

    public async Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        await SetAsync(fx, key, change.After!["value"], ct);
        return change.After;
    }

    public static async Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        var key = entry.Address.Key;
        if (!fx.Root.IsLive || entry.Before?.Get("value") is not { } old) return RestoreOutcome.Nothing;
        if (KernelSettings.Read(key) is not { } now) return RestoreOutcome.Nothing;
        if (Same(now, old)) return RestoreOutcome.Nothing;
        if (!force && entry.After?.Get("value") is { } set && !Same(now, set))
            return TextFile.Kept($"kernel setting {key}", $"changed since the run ({set} -> {now}); kept (rollback --force sets {old})");
        await SetAsync(fx, key, old, ct);
        fx.Report($"  restored kernel setting {key} = {old}");
        return RestoreOutcome.Done;
    }

    private static async Task SetAsync(IHostEffects fx, string key, string value, CancellationToken ct)
    {
        var result = await fx.RunAsync(["sysctl", "-q", "-w", $"{key}={value}"], ct);
        if (!result.Succeeded) throw new HardenException($"sysctl -w {key}={value} failed (exit {result.ExitCode}): {result.Message}");
    }

    /// <summary>Settings where a higher number is stricter: a host already stricter is never weakened (and 3, or a locked 1, could not be lowered anyway).</summary>
    private static readonly string[] HigherIsStricter =
    [
        "kernel.yama.ptrace_scope", "kernel.kptr_restrict", "kernel.dmesg_restrict", "fs.protected_fifos", "fs.protected_regular",
        "fs.protected_hardlinks", "fs.protected_symlinks", "kernel.randomize_va_space", "net.core.bpf_jit_harden",
    ];

    private static bool AtLeastAsStrict(string key, string now, string wanted) =>
        // unprivileged BPF is off at 1 (locked) and at 2: either is as strict as wanted.
        key == "kernel.unprivileged_bpf_disabled" ? now.Trim() is "1" or "2" && wanted.Trim() is "1" or "2"
        : HigherIsStricter.Contains(key) && long.TryParse(now.Trim(), out var n) && long.TryParse(wanted.Trim(), out var w) && n > w;

    /// <summary>The kernel prints several numbers with tabs; a file has spaces.</summary>
    private static string Normal(string text) => string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    private static bool Same(string a, string b) => Normal(a) == Normal(b);

    /// <summary>The <c>key = value</c> settings of a sysctl.d file (comments, blanks and '-' prefixes as sysctl reads them).</summary>
    public static IEnumerable<(string Key, string Value)> Settings(string content) =>
        content.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] is not ('#' or ';') && l.Contains('='))
            .Select(l => (Key: l[..l.IndexOf('=')].Trim().TrimStart('-'), Value: l[(l.IndexOf('=') + 1)..].Trim()))
            .Where(s => KernelSettings.IsKey(s.Key));
}
