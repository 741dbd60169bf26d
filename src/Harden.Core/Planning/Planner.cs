using System.Collections.Immutable;
using System.Text;
using Harden.Host;
using Harden.Profiles;
using Harden.Resources;

namespace Harden.Planning;

/// <summary>
/// Compares what the profile wants with what the host has and says what apply would do.
/// Pure: it reads only its arguments, so the same inputs always give the same plan.
/// </summary>
public static class Planner
{
    public const string SshdValidator = "sshd";

    /// <summary>A module with this verifier keeps every human account's home folder at most <see cref="HomeMode"/>.</summary>
    public const string HomeVerifier = "homes";
    private static readonly UnixFileMode HomeMode = (UnixFileMode)Convert.ToInt32("750", 8);

    /// <summary>Everything the resources ask the host reader for, plus what the sshd checks need.</summary>
    public static IEnumerable<HostQuery> Needs(DesiredState desired) =>
        desired.Resources.SelectMany(r => r.Needs).Concat(desired.PrivateFiles.Select(p => new HostQuery(HostQueryKind.File, p.Path)))
            .Concat(AuditWatches.Needs(desired.Resources)).Concat(AuditPrivileged.Needs(desired.Resources))
            .Concat(desired.ActiveModules.Any(m => m.Verify == AptSources.Verifier) ? AptSources.Needs : [])
            .Concat(desired.ActiveModules.Any(m => m.Verify == AppArmorProfiles.Verifier) ? AppArmorProfiles.Needs : [])
            .Concat(desired.ActiveModules.Any(m => m.Verify == HomeVerifier) ? [new HostQuery(HostQueryKind.HumanHomes, "")] : [])
            .Concat(desired.ActiveModules.SelectMany(m => m.Handlers).Select(h => desired.Profile.Handlers[h].RequiresPath).OfType<string>()
                .Select(p => new HostQuery(HostQueryKind.Entry, p)))
            .Concat(RolePaths(desired).SelectMany(r => PathRoles.Chain(r.Path)).Select(p => new HostQuery(HostQueryKind.Entry, p)));

    /// <summary>Every path a variable with a role names, with the role.</summary>
    private static IEnumerable<(PathRole Role, string Path, string Variable)> RolePaths(DesiredState desired) =>
        desired.Profile.Variables.Where(v => v.Role is not null && desired.Variables.ContainsKey(v.Name)).SelectMany(v => desired.Variables[v.Name] switch
        {
            VariableValue.List list => list.Items.Select(p => (v.Role!.Value, p, v.Name)),
            VariableValue.Text { Value.Length: > 0 } text => [(v.Role!.Value, text.Value, v.Name)],
            _ => [],
        });

    public static Plan Create(DesiredState desired, HostSnapshot host)
    {
        foreach (var (role, path, variable) in RolePaths(desired))
        {
            if (PathRoles.HostRefusal(role, path, host.EntryAt) is { } why)
                throw new HardenException($"variable '{variable}': {why}; nothing was changed");
        }
        var warnings = ImmutableArray.CreateBuilder<string>();
        foreach (var refused in host.RefusedRuns) warnings.Add($"ignoring run state {refused}");
        if (host.UnfinishedRun is { } run)
            warnings.Add($"run {run} did not finish (the process died mid-run); 'harden rollback --run {run}' restores the host to the state before it");

        var (resources, leftOut) = AuditWatches.LeaveOutUnloadable(AuditPrivileged.Expand(
            [.. desired.Resources.Select(r => r is FileResource f ? f.WithJobOwners(host).WithSshdPorts(host) : r)], host), host);
        warnings.AddRange(leftOut);
        if (desired.ActiveModules.FirstOrDefault(m => m.Verify == AccountsReview.Verifier) is { } review)
        {
            warnings.AddRange(AccountsReview.Findings(host).Select(f => $"module {review.Id}: {f}"));
            if (desired.Variables.TryGetValue(AccountsReview.LockVariable, out var lockThem) && !lockThem.IsEmpty)
                resources.AddRange(AccountsReview.EmptyPasswords(host).Select(a => new PasswordLockResource(review.Id, a)));
        }
        if (desired.ActiveModules.FirstOrDefault(m => m.Verify == HomeVerifier) is { } homes)
        {
            // Each person's home under /home at most 0750; a missing one is left alone (ModeResource), and
            // a "home" elsewhere (/srv/app, /var/www) belongs to a service whose readers harden cannot know.
            // Only a folder below /home ("/home/" itself, normalised to /home, holds everyone's home and stays as it is).
            resources.AddRange(host.Users.Where(u => u.IsHuman && u.Home.StartsWith("/home/", StringComparison.Ordinal) && SafePath.IsAbsolute(u.Home) && host.Entries.ContainsKey(u.Home))
                .Select(u => u.Home).Distinct()
                .Where(h => resources.All(r => r.Address != new Address(ModeResource.Kind, h)))
                .Select(h => new ModeResource(homes.Id, h, HomeMode)));
        }
        if (desired.ActiveModules.FirstOrDefault(m => m.Verify == AptSources.Verifier) is { } apt)
            warnings.AddRange(AptSources.Findings(host).Select(f => $"module {apt.Id}: {f}"));
        if (desired.ActiveModules.FirstOrDefault(m => m.Verify == AppArmorProfiles.Verifier) is { } apparmor)
            warnings.AddRange(AppArmorProfiles.Findings(host).Select(f => $"module {apparmor.Id}: {f}"));
        var (managed, managedBy) = SshdManaged(resources);
        if (managed.Count > 0)
        {
            var owned = resources.OfType<FileResource>().Select(f => f.Path).ToHashSet(StringComparer.Ordinal);
            var module = resources.First(r => IsSshd(r)).Module;
            resources.AddRange(SshdConflictResource.Discover(module, managedBy, managed, host, owned));
            WarnWithoutInclude(resources, host, warnings);
        }
        var changes = Order(resources).Select(r => r.Plan(host)).ToImmutableArray();
        CheckOwners(changes, host);
        foreach (var (module, path) in desired.PrivateFiles)
        {
            var file = host.File(path);
            if (!file.Exists)
                warnings.Add($"module {module}: {path} does not exist{(file.Symlink is not null ? " as a regular file (it is a symlink)" : "")}; create it (root-owned, 0600) before the first run");
            else if (((int)file.Mode & 0x3F) != 0 || file.Uid != 0)
                warnings.Add($"module {module}: {path} is {Octal(file.Mode)} owned by uid {file.Uid}; it holds a secret: chown root:root and chmod 0600 it");
        }
        // "-e 2" locks the loaded rules until a reboot: say so before anyone applies it.
        if (resources.OfType<FileResource>().FirstOrDefault(f => f.Validator == "audit" && f.Content.Split('\n').Any(l => l.Trim() == "-e 2")) is { } immutable)
            warnings.Add($"{immutable.Path} makes the audit rules immutable (-e 2): once loaded, every rule change (a later apply, a rollback) needs a reboot to take effect");

        var changedModules = changes.Where(c => c.IsChange).Select(c => c.Module).ToHashSet(StringComparer.Ordinal);
        var validators = changes.Where(c => c.IsChange).Select(c => c.Resource switch
        {
            FileResource f => f.Validator,
            BlockResource b => b.Validator,
            SshdConflictResource => SshdValidator,
            _ => null,
        }).OfType<string>().Distinct().ToImmutableArray();

        var addresses = changes.Select(c => c.Address).ToHashSet();
        // A neutralised sshd line is no longer found, and that is the point: it stays managed while sshd is.
        bool Discovered(Address a) => a.Kind is SshdConflictResource.GlobalKind or SshdConflictResource.MatchKind && managed.Count > 0;
        var orphans = host.Managed.Where(m => !addresses.Contains(m.Address) && !Discovered(m.Address))
            .GroupBy(m => m.Address).Select(g => g.Last()).ToImmutableArray();
        if (orphans.Length > 0)
            warnings.Add($"{orphans.Length} resource(s) that earlier runs changed are no longer in this profile; 'harden apply --prune' returns them to their state before harden");

        return new Plan(
            Plan.CurrentFormatVersion,
            desired.Profile.Name,
            host.Root,
            host.IsLive,
            desired.Variables.ToImmutableSortedDictionary(kv => kv.Key, kv => kv.Value.ToString()!, StringComparer.Ordinal),
            changes,
            PlanHandlers(desired, host, changedModules),
            validators,
            [.. managed.Select(kv => new ExpectedSetting(SshdValidator, kv.Key, kv.Value))],
            SshdConnections(host, warnings, managed.Count > 0),
            desired.Skipped,
            orphans,
            warnings.ToImmutable(),
            host.UnfinishedRun);
    }

    /// <summary>A resource that is sshd configuration, by where it lives: the lockout guard and verification follow from this, not from a module's name.</summary>
    public static bool IsSshd(IResource r) => r switch
    {
        FileResource f => IsSshdPath(f.Path),
        BlockResource b => IsSshdPath(b.Path),
        SshdConflictResource => true,
        _ => false,
    };

    public static bool IsSshdPath(string path) =>
        path == HostReader.SshdConfig || path.StartsWith(HostReader.SshdDropInDir + "/", StringComparison.Ordinal) && path.EndsWith(".conf", StringComparison.Ordinal);

    /// <summary>The global sshd settings harden's own files and blocks make, first value per key as sshd reads them.</summary>
    private static (ImmutableSortedDictionary<string, string>, string) SshdManaged(List<IResource> resources)
    {
        var sources = resources.Where(IsSshd).Select(r => r switch
        {
            FileResource f => (Path: f.Path, Text: f.Content),
            BlockResource b => (Path: b.Path + " (harden block)", Text: b.Content),
            _ => default,
        }).Where(s => s.Text is not null).OrderBy(s => s.Path.StartsWith(HostReader.SshdConfig + " ", StringComparison.Ordinal) ? 0 : 1).ThenBy(s => s.Path, StringComparer.Ordinal).ToList();
        var managed = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var source in sources)
        {
            foreach (var (key, value) in SshdConfig.Managed(source.Text)) managed.TryAdd(key, value);
        }
        return (managed.ToImmutable(), sources.Select(s => s.Path).FirstOrDefault() ?? "");
    }

    private static void WarnWithoutInclude(List<IResource> resources, HostSnapshot host, ImmutableArray<string>.Builder warnings)
    {
        // What harden cannot see it must not call verified: say so, so a person looks.
        foreach (var path in host.SshdIncludes.Where(p => host.File(p).Symlink is not null))
            warnings.Add($"{path} is a symlink; harden does not follow it, so its settings and Match blocks are not checked: review it by hand");

        var main = host.File(HostReader.SshdConfig);
        if (!main.Exists || SshdConfig.IncludesDropIns(Encoding.UTF8.GetString(main.Content), HostReader.SshdDropInDir)) return;
        foreach (var dropIn in resources.OfType<FileResource>().Where(f => f.Path.StartsWith(HostReader.SshdDropInDir + "/", StringComparison.Ordinal)))
            warnings.Add($"{HostReader.SshdConfig} has no 'Include {HostReader.SshdDropInDir}/*.conf' before any Match block: sshd will not read {dropIn.Path}");
    }

    /// <summary>
    /// One <c>sshd -T -C</c> connection per Match block on the host, so verification sees what each
    /// block makes effective; plain <c>sshd -T</c> shows only the global settings.
    /// </summary>
    private static ImmutableArray<string> SshdConnections(HostSnapshot host, ImmutableArray<string>.Builder warnings, bool managed)
    {
        if (!managed) return [];
        var criteria = host.SshdIncludes.Append(HostReader.SshdConfig)
            .Select(p => host.File(p)).Where(f => f.Exists)
            .SelectMany(f => SshdConfig.Parse(Encoding.UTF8.GetString(f.Content)))
            .Where(s => s.Key == "match").Select(s => s.Value).Distinct(StringComparer.Ordinal);
        var connections = ImmutableArray.CreateBuilder<string>();
        foreach (var c in criteria)
        {
            if (SshdConfig.Connection(c, host) is { } spec) connections.Add(spec);
            else warnings.Add($"'Match {c}' cannot be checked with sshd -T -C (a negation or a group without members); review it by hand");
        }
        return [.. connections.Distinct()];
    }

    /// <summary>Kind phases first, then what each resource depends on, then profile order: a stable topological order.</summary>
    private static List<IResource> Order(List<IResource> resources)
    {
        var byPhase = resources.Select((r, i) => (r, i)).OrderBy(x => ResourceKinds.Phase(x.r)).ThenBy(x => x.i).Select(x => x.r).ToList();
        var present = byPhase.Select(r => r.Address).ToHashSet();
        var done = new HashSet<Address>();
        var ordered = new List<IResource>();
        var visiting = new HashSet<Address>();
        void Visit(IResource r)
        {
            if (done.Contains(r.Address)) return;
            if (!visiting.Add(r.Address)) throw new HardenException($"resources depend on each other in a cycle at {r.Address}");
            foreach (var dep in r.DependsOn.Where(present.Contains))
                Visit(byPhase.First(x => x.Address == dep));
            visiting.Remove(r.Address);
            done.Add(r.Address);
            ordered.Add(r);
        }
        foreach (var r in byPhase) Visit(r);
        return ordered;
    }

    /// <summary>Owners are resolved at apply time, but only a group that exists or that this plan creates can be resolved then.</summary>
    private static void CheckOwners(ImmutableArray<Change> changes, HostSnapshot host)
    {
        var created = changes.Where(c => c.Address.Kind == GroupResource.Kind).Select(c => c.Address.Key).ToHashSet(StringComparer.Ordinal);
        var users = changes.Where(c => c.Address.Kind == UserResource.Kind).Select(c => c.Address.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var c in changes.Where(c => c.IsChange && c.Address.Kind == DirectoryResource.Kind && c.After.Get("owner") is not null))
        {
            var owner = c.After!["owner"];
            if (host.Users.All(u => u.Name != owner) && !users.Contains(owner) && !uint.TryParse(owner, out _))
                throw new HardenException($"{c.Address}: owner '{owner}' does not exist on the target and no module creates it");
        }
        // A package this run installs for the same module may bring the group (cron brings crontab):
        // that is checked when the file is written, after the package.
        var installing = changes.Where(c => c.IsChange && c.Resource is PackageResource { Present: true }).Select(c => c.Module).ToHashSet(StringComparer.Ordinal);
        foreach (var c in changes.Where(c => c.IsChange && c.After.Get("group") is not null && !installing.Contains(c.Module)))
        {
            var group = c.After!["group"];
            if (host.Groups.All(g => g.Name != group) && !created.Contains(group) && !uint.TryParse(group, out _))
                throw new HardenException($"{c.Address}: group '{group}' does not exist on the target and no module creates it");
        }
    }

    public static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0xFFF, 8).PadLeft(3, '0');

    /// <summary>The inverse of <see cref="Octal"/>, for modes stored as text in plans and manifests.</summary>
    public static UnixFileMode ParseOctal(string mode) => (UnixFileMode)Convert.ToInt32(mode, 8);

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
            if (skip is null && h.RequiresPath is { } needed && host.EntryAt(needed).Kind == EntryKind.Missing)
                skip = $"{needed} is not on the target";
            handlers.Add(new PlannedHandler(h.Id, h.Description, argv, modules, skip, skip is null ? h.Touches : []));
        }
        return handlers.ToImmutable();
    }
}
