using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;

namespace Harden.Resources;

/// <summary>
/// A systemd unit enabled, disabled or masked. <c>systemctl enable</c> works offline under chroot
/// (it only makes links); on a live host <c>--now</c> also starts or stops it, unless
/// <paramref name="startNow"/> is false: nftables.service is enabled for boot, but on a live host
/// only its handler loads the rules, with a timed revert that a plain start would bypass. Restore
/// sets the state from before the run (stopping what it disables), unless someone changed it since.
/// </summary>
public sealed class ServiceResource(string module, string unit, string state, bool startNow = true) : IResource
{
    public const string Kind = "service";

    public Address Address { get; } = new(Kind, unit);
    public string Module => module;
    public string Wanted => state;
    public IEnumerable<HostQuery> Needs => [new(HostQueryKind.Service, unit)];
    public IEnumerable<Address> DependsOn => [];

    public Change Plan(HostSnapshot host)
    {
        var now = host.Service(unit);
        var after = State.Of(("state", state));
        if (now == state) return new Change(Address, module, ChangeAction.NoOp, after, after, "") { Resource = this };
        var reason = now == "absent" ? $"{unit} is not installed yet (a package of this run provides it); then {state}" : $"{now} -> {state}";
        return new Change(Address, module, ChangeAction.Update, State.Of(("state", now)), after, reason) { Resource = this };
    }

    public async Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        var now = ServiceReader.Read(fx.Root, [unit])[unit];
        if (now == "absent" && state != "masked") throw new HardenException($"unit {unit} does not exist on the target (is its package installed?)");
        var reached = change.After!;
        if (state == "masked" && SetAside(fx, unit) is { } aside) reached = reached.SetItem(aside.Key, aside.Value);
        await SetAsync(fx, unit, now, state, ct, startNow);
        return reached;
    }

    private static string AdminPath(string unit) => $"/etc/systemd/system/{unit}";

    /// <summary>
    /// An administrator's own link or unit file at /etc/systemd/system/UNIT (Ubuntu ships
    /// ctrl-alt-del.target as a link to reboot.target) makes <c>systemctl mask</c> refuse. It is set
    /// aside first and recorded — a link by its target, a file through the run's backup — so
    /// restore puts it back exactly.
    /// </summary>
    private static KeyValuePair<string, string>? SetAside(IHostEffects fx, string unit)
    {
        var path = AdminPath(unit);
        var entry = fx.Root.Stat(path);
        if (entry.Kind == EntryKind.Symlink && fx.Root.Files.ReadLink(HostRoot.Relative(path)) is { } target && target != "/dev/null")
        {
            if (!LinkTarget(target)) throw new HardenException($"{path} is a link to '{Profiles.VariableDefinition.Printable(target)}', which harden would not know how to put back; remove it by hand");
            fx.Root.Files.DeleteLink(HostRoot.Relative(path));
            fx.Report($"  set aside the link {path} -> {target} (rollback puts it back)");
            return new("replaced_link", target);
        }
        if (entry.Kind == EntryKind.File)
        {
            fx.DeleteFile(path);
            fx.Report($"  set aside the unit file {path} (kept in the run's backups; rollback puts it back)");
            return new("replaced_file", "yes");
        }
        return null;
    }

    /// <summary>A link target harden records and recreates: an absolute or plain relative path, nothing that could carry more.</summary>
    private static bool LinkTarget(string target) =>
        target.Length is > 0 and < 4096 && !target.Any(char.IsControl) && (SafePath.IsAbsolute(target) || SafePath.IsRelative(target));

    private static async Task SetAsync(IHostEffects fx, string unit, string from, string to, CancellationToken ct, bool startNow = true)
    {
        var now = fx.Root.IsLive && startNow ? new[] { "--now" } : [];
        if (from == "masked" && to != "masked") await RunAsync(fx, ["systemctl", "unmask", unit], ct);
        string[] argv = to switch
        {
            "enabled" => ["systemctl", "enable", .. now, unit],
            "disabled" => ["systemctl", "disable", .. now, unit],
            _ => ["systemctl", "mask", .. now, unit],
        };
        await RunAsync(fx, argv, ct);
    }

    private static async Task RunAsync(IHostEffects fx, string[] argv, CancellationToken ct)
    {
        var result = await fx.RunAsync(argv, ct);
        if (!result.Succeeded) throw new HardenException($"{CliWrapCommandRunner.Display(argv)} failed (exit {result.ExitCode}): {result.Message}");
    }

    public static async Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        var unit = entry.Address.Key;
        var before = entry.Before.Get("state");
        var now = ServiceReader.Read(fx.Root, [unit])[unit];
        if (before is null || now == before || now == "absent") return RestoreOutcome.Nothing;
        if (now != entry.After.Get("state") && !force)
            return new RestoreOutcome(false, $"{unit} is {now} now, not {entry.After.Get("state")} as the run left it; kept (rollback --force makes it {before})");
        // A unit this run brought (its file or package is removed after this, in reverse order) is
        // disabled first, so no link is left pointing at a unit that is gone.
        await SetAsync(fx, unit, now, before == "absent" ? "disabled" : before, ct);
        var path = AdminPath(unit);
        if (entry.After.Get("replaced_link") is { } target && LinkTarget(target) && fx.Root.Stat(path).Kind == EntryKind.Missing)
        {
            var link = await fx.RunAsync(["ln", "-s", "--", target, path], ct);
            if (!link.Succeeded) return new RestoreOutcome(false, $"{unit}: the link {path} -> {target} could not be put back: {link.Message}; run: ln -s {target} {path}");
            fx.Report($"  restored the link {path} -> {target}");
        }
        if (entry.After.Get("replaced_file") == "yes" && fx.Backup(path) is { Existed: true } backup && fx.Root.Stat(path).Kind == EntryKind.Missing)
        {
            var bytes = fx.ReadCopy(backup.Copy) ?? throw new HardenException($"the backup of {path} is missing from the run folder");
            if (FileState.Digest(bytes) != backup.Sha256) throw new HardenException($"the backup of {path} does not match its recorded digest; left as it is");
            fx.WriteFile(path, bytes, Planning.Planner.ParseOctal(backup.Mode), backup.Uid, backup.Gid);
            fx.Report($"  restored {path}");
        }
        return RestoreOutcome.Done;
    }
}
