using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;
using Harden.Planning;

namespace Harden.Resources;

/// <summary>
/// The most an existing file or folder may allow (<c>sshd_config</c> at most 0600, cron's folders at
/// most 0700): bits beyond <see cref="Limit"/> are taken away, none are ever added, and a path that
/// is missing (a host key type the host does not have) is left alone. Links and special files are
/// never touched. Restore puts the old bits back unless someone changed them since.
/// </summary>
public sealed class ModeResource(string module, string path, UnixFileMode limit) : IResource
{
    public const string Kind = "mode";

    public Address Address { get; } = new(Kind, path);
    public string Module => module;
    public UnixFileMode Limit => limit;
    public IEnumerable<HostQuery> Needs => [new(HostQueryKind.Entry, path)];
    public IEnumerable<Address> DependsOn => [];

    public Change Plan(HostSnapshot host)
    {
        var now = host.EntryAt(path);
        if (now.Kind is not (EntryKind.File or EntryKind.Directory))
        {
            var why = now.Kind == EntryKind.Missing ? "" : $"{path} is {now.Describe()}, not a file or folder; its mode is not managed";
            return new Change(Address, module, ChangeAction.NoOp, null, null, why) { Resource = this };
        }
        var before = State.Of(("mode", Planner.Octal(now.Mode)));
        var wanted = now.Mode & limit;
        if (wanted == now.Mode) return new Change(Address, module, ChangeAction.NoOp, before, before, "") { Resource = this };
        var after = State.Of(("mode", Planner.Octal(wanted)));
        return new Change(Address, module, ChangeAction.Update, before, after, $"mode {Planner.Octal(now.Mode)} -> {Planner.Octal(wanted)}") { Resource = this };
    }

    public Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        var mode = Planner.ParseOctal(change.After!["mode"]);
        if (!fx.SetMode(path, mode)) throw new HardenException($"{path}: no longer a regular file or folder; its mode was not changed");
        return Task.FromResult<ImmutableSortedDictionary<string, string>?>(change.After);
    }

    public static Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        var path = entry.Address.Key;
        if (entry.Before?.Get("mode") is not { } old) return Task.FromResult(RestoreOutcome.Nothing);
        var now = HostReader.StatEntry(fx.Root, path);
        if (now.Kind is not (EntryKind.File or EntryKind.Directory)) return Task.FromResult(TextFile.Kept(path, $"is now {now.Describe()}; not touched"));
        var current = Planner.Octal(now.Mode);
        if (current == old) return Task.FromResult(RestoreOutcome.Nothing);
        if (!force && entry.After?.Get("mode") is { } reached && reached != current)
            return Task.FromResult(TextFile.Kept(path, $"mode changed since the run ({reached} -> {current}); kept (rollback --force sets {old})"));
        if (!fx.SetMode(path, Planner.ParseOctal(old))) return Task.FromResult(TextFile.Kept(path, "is no longer a regular file or folder; not touched"));
        fx.Report($"  restored {path} to mode {old}");
        return Task.FromResult(RestoreOutcome.Done);
    }
}
