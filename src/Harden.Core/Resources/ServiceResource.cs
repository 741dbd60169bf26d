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
        await SetAsync(fx, unit, now, state, ct, startNow);
        return change.After;
    }

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
        return RestoreOutcome.Done;
    }
}
