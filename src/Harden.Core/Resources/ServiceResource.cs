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
        // mask needs the name free; enable and disable refuse a linked unit file ("refusing to operate on
        // linked unit file"), and disable would even delete the link: both get it set aside first.
        if (SetAside(fx, unit, Address, reached, linksOnly: state != "masked") is { } aside) reached = reached.SetItem(aside.Key, aside.Value);
        await SetAsync(fx, unit, now, state, ct, startNow);
        // Enabled or disabled, the administrator's link stays what it was (only masking takes the name).
        if (state != "masked" && reached.Get("replaced_link") is { } target && await RelinkAsync(fx, unit, target, ct) is { } failed)
            throw new HardenException(failed);
        return reached;
    }

    private static async Task<string?> RelinkAsync(IHostEffects fx, string unit, string target, CancellationToken ct)
    {
        var path = AdminPath(unit);
        if (!LinkTarget(target) || fx.Root.Stat(path).Kind != EntryKind.Missing) return null;
        var link = await fx.RunAsync(["ln", "-s", "--", target, path], ct);
        if (!link.Succeeded) return $"{unit}: the link {path} -> {target} could not be put back: {link.Message}; run: ln -s {target} {path}";
        fx.Report($"  restored the link {path} -> {target}");
        return null;
    }

    private static string AdminPath(string unit) => $"/etc/systemd/system/{unit}";

    /// <summary>
    /// An administrator's own link or unit file at /etc/systemd/system/UNIT (Ubuntu ships
    /// ctrl-alt-del.target as a link to reboot.target) makes <c>systemctl mask</c> refuse. It is set
    /// aside first and recorded — a link by its target, a file through the run's backup — so
    /// restore puts it back exactly.
    /// </summary>
    private static KeyValuePair<string, string>? SetAside(IHostEffects fx, string unit, Address address, ImmutableSortedDictionary<string, string> after, bool linksOnly)
    {
        var path = AdminPath(unit);
        var entry = fx.Root.Stat(path);
        if (entry.Kind == EntryKind.Symlink && fx.Root.Files.ReadLink(HostRoot.Relative(path)) is { } target && target != "/dev/null")
        {
            if (!LinkTarget(target)) throw new HardenException($"{path} is a link to '{Profiles.VariableDefinition.Printable(target)}', which harden would not know how to put back; remove it by hand");
            // Journalled before it goes: a run killed in between still knows to put it back.
            fx.Intend(address, after.SetItem("replaced_link", target));
            fx.Root.Files.DeleteLink(HostRoot.Relative(path));
            fx.Report($"  set aside the link {path} -> {target} (rollback puts it back)");
            return new("replaced_link", target);
        }
        if (entry.Kind == EntryKind.File && !linksOnly)
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
        if (from == "masked" && to != "masked")
        {
            await RunAsync(fx, ["systemctl", "unmask", unit], ct);
            // Unmasked is disabled already: 'systemctl disable' would also delete every other link to the
            // unit's file (an alias such as ctrl-alt-del.target -> reboot.target) and the SysV rc links.
            if (to == "disabled") return;
        }
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
        var path = AdminPath(unit);
        var before = entry.Before.Get("state");
        var now = ServiceReader.Read(fx.Root, [unit])[unit];
        var done = false;
        if (before is not null && now != before && now != "absent")
        {
            if (now != entry.After.Get("state") && !force)
                return new RestoreOutcome(false, $"{unit} is {now} now, not {entry.After.Get("state")} as the run left it; kept (rollback --force makes it {before})");
            // The administrator's own link stands in systemctl's way again: aside for the command, then back.
            var own = fx.Root.Stat(path).Kind == EntryKind.Symlink && fx.Root.Files.ReadLink(HostRoot.Relative(path)) is { } t && t != "/dev/null" && LinkTarget(t) ? t : null;
            if (own is not null) fx.Root.Files.DeleteLink(HostRoot.Relative(path));
            // A unit this run brought (its file or package is removed after this, in reverse order) is
            // disabled first, so no link is left pointing at a unit that is gone.
            await SetAsync(fx, unit, now, before == "absent" ? "disabled" : before, ct);
            if (own is not null && await RelinkAsync(fx, unit, own, ct) is { } lost) return new RestoreOutcome(false, lost);
            done = true;
        }
        // Also after a run killed between setting the link aside and the systemctl command.
        if (entry.After.Get("replaced_link") is { } target && fx.Root.Stat(path).Kind == EntryKind.Missing)
        {
            if (await RelinkAsync(fx, unit, target, ct) is { } failed) return new RestoreOutcome(false, failed);
            done = true;
        }
        if (entry.After.Get("replaced_file") == "yes" && fx.Backup(path) is { Existed: true } backup && fx.Root.Stat(path).Kind == EntryKind.Missing)
        {
            var bytes = fx.ReadCopy(backup.Copy) ?? throw new HardenException($"the backup of {path} is missing from the run folder");
            if (FileState.Digest(bytes) != backup.Sha256) throw new HardenException($"the backup of {path} does not match its recorded digest; left as it is");
            fx.WriteFile(path, bytes, Planning.Planner.ParseOctal(backup.Mode), backup.Uid, backup.Gid);
            fx.Report($"  restored {path}");
            done = true;
        }
        return done ? RestoreOutcome.Done : RestoreOutcome.Nothing;
    }
}
