using System.Collections.Immutable;
using System.Text;
using Harden.Host;
using Harden.Profiles;

namespace Harden.Planning;

/// <summary>
/// Compares what the profile wants with what the host has and says what apply would do.
/// Pure: it reads only its arguments, so the same inputs always give the same plan.
/// </summary>
public static class Planner
{
    public const string SshdValidator = "sshd";

    public static Plan Create(DesiredState desired, HostSnapshot host)
    {
        var warnings = ImmutableArray.CreateBuilder<string>();
        if (host.UnfinishedRun is { } run)
            warnings.Add($"run {run} did not finish (the process died mid-run); 'harden rollback --run {run}' restores the host to the state before it");

        var files = new List<FileChange>();
        foreach (var rendered in desired.Files)
            files.Add(PlanFile(rendered, host));

        var (conflicts, neutralised, expected) = PlanSshd(desired, host, files, warnings);
        files.AddRange(neutralised);

        var commands = PlanCommands(desired, host);
        var changedModules = files.Where(f => f.Action != ChangeAction.Unchanged).Select(f => f.Module)
            .Concat(commands.Select(c => c.Module)).ToHashSet(StringComparer.Ordinal);

        return new Plan(
            Plan.CurrentFormatVersion,
            desired.Profile.Name,
            host.Root,
            host.IsLive,
            desired.Variables.ToImmutableSortedDictionary(kv => kv.Key, kv => kv.Value.ToString()!, StringComparer.Ordinal),
            [.. files],
            commands,
            PlanHandlers(desired, host, changedModules),
            [.. files.Where(f => f.Action != ChangeAction.Unchanged && f.Validator is not null).Select(f => f.Validator!).Distinct()],
            conflicts,
            expected,
            desired.Skipped,
            warnings.ToImmutable());
    }

    private static FileChange PlanFile(RenderedFile rendered, HostSnapshot host)
    {
        var target = rendered.File;
        var before = host.File(target.Path);
        if (before.Symlink is { } link)
            throw new HardenException($"{target.Path}: refusing to manage a path that is or goes through a symlink ({link})");
        var uid = host.Users.FirstOrDefault(u => u.Name == target.Owner)?.Uid
            ?? throw new HardenException($"{target.Path}: owner '{target.Owner}' does not exist on the target");
        var gid = host.Groups.FirstOrDefault(g => g.Name == target.Group)?.Gid
            ?? throw new HardenException($"{target.Path}: group '{target.Group}' does not exist on the target");
        return Compare(rendered.Module.Id, target.Path, before, rendered.Content, target.Mode, target.Owner, target.Group, uid, gid, target.Validator);
    }

    private static FileChange Compare(string module, string path, FileState before, string content,
        UnixFileMode mode, string owner, string group, uint uid, uint gid, string? validator)
    {
        var after = Encoding.UTF8.GetBytes(content);
        var afterSha = FileState.Digest(after);
        var reasons = new List<string>();
        ChangeAction action;
        if (!before.Exists)
        {
            action = ChangeAction.Create;
            reasons.Add("new file");
        }
        else
        {
            if (before.Sha256 != afterSha) reasons.Add("content");
            if (before.Mode != mode) reasons.Add($"mode {Octal(before.Mode)} -> {Octal(mode)}");
            if (before.Uid != uid || before.Gid != gid) reasons.Add($"owner {before.Uid}:{before.Gid} -> {owner}:{group}");
            action = reasons.Count == 0 ? ChangeAction.Unchanged : ChangeAction.Update;
        }
        var diff = UnifiedDiff.Compute(before.Exists ? "a" + path : "/dev/null", "b" + path,
            Encoding.UTF8.GetString(before.Content), content);
        return new FileChange(path, module, action, string.Join(", ", reasons), before.Sha256, afterSha, content,
            Octal(mode), owner, group, uid, gid, validator, diff);
    }

    public static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0xFFF, 8).PadLeft(3, '0');

    /// <summary>The inverse of <see cref="Octal"/>, for modes stored as text in plans and manifests.</summary>
    public static UnixFileMode ParseOctal(string mode) => (UnixFileMode)Convert.ToInt32(mode, 8);

    /// <summary>
    /// Finds lines elsewhere in the sshd configuration that set a key the managed drop-in sets,
    /// to another value, and plans to comment them out. Our drop-in sorts first, so sshd's
    /// first-value rule already favours it; neutralising the rest keeps the configuration honest for
    /// the next person who reads it, and guards against an Include order we did not foresee.
    /// </summary>
    private static (ImmutableArray<SshdConflict>, List<FileChange>, ImmutableArray<ExpectedSetting>) PlanSshd(
        DesiredState desired, HostSnapshot host, List<FileChange> files, ImmutableArray<string>.Builder warnings)
    {
        var conflicts = ImmutableArray.CreateBuilder<SshdConflict>();
        var changes = new List<FileChange>();
        var expected = ImmutableArray.CreateBuilder<ExpectedSetting>();
        foreach (var dropIn in desired.Files.Where(f => f.File.Validator == SshdValidator))
        {
            var managed = SshdConfig.Managed(dropIn.Content);
            if (dropIn.Module.Verify == SshdValidator)
                expected.AddRange(managed.Select(kv => new ExpectedSetting(SshdValidator, kv.Key, kv.Value)));

            var main = host.File(HostReader.SshdConfig);
            if (dropIn.File.Path.StartsWith(HostReader.SshdDropInDir + "/", StringComparison.Ordinal) && main.Exists
                && !SshdConfig.IncludesDropIns(Encoding.UTF8.GetString(main.Content), HostReader.SshdDropInDir))
                warnings.Add($"{HostReader.SshdConfig} has no 'Include {HostReader.SshdDropInDir}/*.conf' before any Match block: sshd will not read {dropIn.File.Path}");

            var others = host.SshdDropIns.Append(HostReader.SshdConfig)
                .Where(p => p != dropIn.File.Path && files.All(f => f.Path != p));
            foreach (var path in others)
            {
                var state = host.File(path);
                if (!state.Exists || state.Symlink is not null) continue;
                var text = Encoding.UTF8.GetString(state.Content);
                var hits = SshdConfig.Parse(text)
                    .Where(s => s.Global && managed.TryGetValue(s.Key, out var want) && !SshdConfig.SameValue(want, s.Value))
                    .ToList();
                if (hits.Count == 0) continue;
                conflicts.AddRange(hits.Select(h => new SshdConflict(path, h.Line, h.Key, h.Value, managed[h.Key])));
                var content = SshdConfig.Neutralise(text, hits.Select(h => h.Line), dropIn.File.Path);
                var change = Compare(dropIn.Module.Id, path, state, content, state.Mode,
                    OwnerName(host, state.Uid), GroupName(host, state.Gid), state.Uid, state.Gid, SshdValidator);
                changes.Add(change with { Reason = $"neutralise {hits.Count} conflicting line(s)" });
            }
        }
        return (conflicts.ToImmutable(), changes, expected.ToImmutable());
    }

    private static string OwnerName(HostSnapshot host, uint uid) => host.Users.FirstOrDefault(u => u.Uid == uid)?.Name ?? uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
    private static string GroupName(HostSnapshot host, uint gid) => host.Groups.FirstOrDefault(g => g.Gid == gid)?.Name ?? gid.ToString(System.Globalization.CultureInfo.InvariantCulture);

    // groupadd and usermod also refresh the "-" backup copies shadow-utils keeps.
    private static readonly ImmutableArray<string> GroupFiles = ["/etc/group", "/etc/gshadow", "/etc/group-", "/etc/gshadow-"];

    /// <summary>The users a module adds to its groups (e.g. an image's default user, for first boot).</summary>
    public static IReadOnlyList<string> Members(DesiredState desired, Module module) =>
        module.MembersFrom is { } v && desired.Variables[v] is VariableValue.List l ? l.Items : [];

    private static ImmutableArray<PlannedCommand> PlanCommands(DesiredState desired, HostSnapshot host)
    {
        var commands = ImmutableArray.CreateBuilder<PlannedCommand>();
        foreach (var module in desired.ActiveModules)
        {
            var missing = module.Packages.Where(p => !host.InstalledPackages.Contains(p)).ToList();
            if (missing.Count > 0)
                commands.Add(new PlannedCommand(module.Id, $"install {string.Join(", ", missing)}",
                    ["apt-get", "install", "-y", "--no-install-recommends", .. missing], [], Retryable: true));
            if (module.GroupsFrom is { } variable && desired.Variables[variable] is VariableValue.List groups)
            {
                foreach (var group in groups.Items.Where(g => host.Groups.All(h => h.Name != g)))
                    commands.Add(new PlannedCommand(module.Id, $"create group {group}", ["groupadd", "--", group],
                        GroupFiles, Retryable: false));
                foreach (var member in Members(desired, module))
                {
                    if (host.Users.All(u => u.Name != member))
                        throw new HardenException($"{module.MembersFrom} names '{member}', who has no account on the target");
                    foreach (var group in groups.Items.Where(g => host.Groups.FirstOrDefault(h => h.Name == g) is not { } e || !e.Members.Contains(member)))
                        commands.Add(new PlannedCommand(module.Id, $"add {member} to {group}", ["usermod", "-aG", group, "--", member],
                            GroupFiles, Retryable: false));
                }
            }
        }
        return commands.ToImmutable();
    }

    private static ImmutableArray<PlannedHandler> PlanHandlers(DesiredState desired, HostSnapshot host, HashSet<string> changedModules)
    {
        var handlers = ImmutableArray.CreateBuilder<PlannedHandler>();
        var profile = desired.Profile;
        var wanted = desired.ActiveModules.Where(m => changedModules.Contains(m.Id))
            .SelectMany(m => m.Handlers.Select(h => (Handler: h, Module: m.Id)))
            .GroupBy(x => x.Handler);
        foreach (var group in wanted)
        {
            var h = profile.Handlers[group.Key];
            var modules = group.Select(x => x.Module).Distinct().ToImmutableArray();
            var (argv, skip) = host.IsLive ? (h.Run, null)
                : !h.Offline.IsEmpty ? (h.Offline, null)
                : h.LiveOnly ? (h.Run, "runtime-only; skipped under an offline --root")
                : (h.Run, (string?)null);
            handlers.Add(new PlannedHandler(h.Id, h.Description, argv, modules, skip, skip is null ? h.Touches : []));
        }
        return handlers.ToImmutable();
    }
}
