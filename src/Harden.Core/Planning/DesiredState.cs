using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Harden.Host;
using Harden.Profiles;
using Harden.Rendering;
using Harden.Resources;

namespace Harden.Planning;

/// <summary>
/// A profile with its variables turned into resources: every file rendered, every path and value
/// filled in and checked, and the modules left out (with the reason). Pure: reads no host.
/// </summary>
public sealed partial record DesiredState(
    Profile Profile,
    ImmutableSortedDictionary<string, VariableValue> Variables,
    ImmutableArray<IResource> Resources,
    ImmutableArray<Module> ActiveModules,
    ImmutableArray<SkippedModule> Skipped)
{
    public IEnumerable<FileResource> Files => Resources.OfType<FileResource>();

    /// <summary>Files active modules rely on but never write (a backup password file), with the module: plan checks they are private.</summary>
    public ImmutableArray<(string Module, string Path)> PrivateFiles { get; init; } = [];

    /// <summary>Names templates can use besides the profile's variables; a profile may not declare them.</summary>
    public const string ProfileBuiltin = "harden_profile", SettingsBuiltin = "harden_settings";

    public static DesiredState Render(Profile profile, ImmutableSortedDictionary<string, VariableValue> variables, TemplateRenderer renderer)
    {
        // The drift timer runs 'harden check' later with the same settings as this run: every variable
        // that differs from the profile's default, as NAME=VALUE (values are checked single words).
        var forTemplates = variables
            .SetItem(ProfileBuiltin, new VariableValue.Text(profile.Name))
            .SetItem(SettingsBuiltin, new VariableValue.List([.. profile.Variables
                .Where(d => variables[d.Name].ToString() != (d.Default?.ToString() ?? ""))
                .Select(d => $"{d.Name}={variables[d.Name]}")]));
        var resources = new List<IResource>();
        var privateFiles = ImmutableArray.CreateBuilder<(string, string)>();
        var active = ImmutableArray.CreateBuilder<Module>();
        var skipped = ImmutableArray.CreateBuilder<SkippedModule>();
        foreach (var module in profile.Modules)
        {
            var unset = module.Requires.Where(r => variables[r].IsEmpty).ToList();
            if (unset.Count > 0)
            {
                // A switch is "off" (perhaps by the release, where the feature does not exist); a value is "not set".
                skipped.Add(new SkippedModule(module.Id, variables[unset[0]] is VariableValue.Flag
                    ? $"{string.Join(", ", unset)} is off (--set {unset[0]}=true turns it on)"
                    : $"{string.Join(", ", unset)} is not set (--set {unset[0]}=…)"));
                continue;
            }
            if (module.Unless.FirstOrDefault(u => !variables[u].IsEmpty) is { } allowed)
            {
                skipped.Add(new SkippedModule(module.Id, $"{allowed} is set"));
                continue;
            }
            active.Add(module);
            resources.AddRange(ModuleResources(module, forTemplates, renderer));
            foreach (var text in module.PrivateFiles)
            {
                foreach (var path in RenderPaths(text, module.Id, forTemplates, renderer)) privateFiles.Add((module.Id, path));
            }
        }
        return new DesiredState(profile, variables, Deduplicate(profile, resources), active.ToImmutable(), skipped.ToImmutable())
        {
            PrivateFiles = privateFiles.ToImmutable(),
        };
    }

    private static IEnumerable<IResource> ModuleResources(Module module, ImmutableSortedDictionary<string, VariableValue> variables, TemplateRenderer renderer)
    {
        var id = module.Id;
        string Text(string text, string what) => renderer.RenderInline(text, $"module '{id}' {what}", variables);
        IEnumerable<string> Paths(string text) => RenderPaths(text, id, variables, renderer);

        foreach (var package in module.Packages) yield return new PackageResource(id, package, present: true);
        var groups = module.GroupsFrom is { } gv && variables[gv] is VariableValue.List gl ? gl.Items : [];
        foreach (var group in groups) yield return new GroupResource(id, group);
        var accounts = module.SystemUsersFrom is { } uv && variables[uv] is VariableValue.List ul ? ul.Items : [];
        foreach (var account in accounts) yield return new UserResource(id, account);
        var members = module.MembersFrom is { } mv && variables[mv] is VariableValue.List ml ? ml.Items : [];
        foreach (var member in members)
        {
            foreach (var group in groups) yield return new MemberResource(id, group, member);
        }
        foreach (var d in module.Directories)
        {
            foreach (var path in Paths(d.Path))
                yield return new DirectoryResource(id, path, Text(d.Owner, "owner"), Text(d.Group, "group"),
                    d.ModeTemplate is { } template ? DirectoryMode(Text(template, "mode"), id) : d.Mode, d.CreateOnly);
        }
        foreach (var f in module.Files)
        {
            foreach (var path in Paths(f.Path))
                yield return new FileResource(id, path, renderer.Render(f.Template, variables), f.Mode, Text(f.Owner, "owner"),
                    Text(f.Group, "group"), f.Validator, f.Sensitive)
                {
                    KeepOwnersOf = f.KeepOwnersOf,
                    FillsSshdPorts = f.SshdPorts,
                    KeepOwnersExcept = f.KeepOwnersExceptFrom is { } xv && variables.TryGetValue(xv, out var xs) && xs is VariableValue.List xl ? [.. xl.Items] : [],
                };
        }
        foreach (var k in module.Keys)
        {
            var value = Text(k.Value, $"key {k.Key}");
            if (value.Any(char.IsControl) || value.Trim().Length == 0 || value != value.Trim())
                throw new HardenException($"module '{id}': key {k.Key} would be set to '{VariableDefinition.Printable(value)}', which is not a single non-empty word or phrase");
            foreach (var path in Paths(k.Path)) yield return new KeyResource(id, path, k.Key, value, k.Separator);
        }
        foreach (var b in module.Blocks)
        {
            var body = renderer.Render(b.Template, variables);
            if (body.Split('\n').Any(l => l.StartsWith("# BEGIN harden ", StringComparison.Ordinal) || l.StartsWith("# END harden ", StringComparison.Ordinal)))
                throw new HardenException($"module '{id}': block template {b.Template} contains harden's own markers");
            foreach (var path in Paths(b.Path)) yield return new BlockResource(id, path, body, b.Position, b.Validator);
        }
        foreach (var f in module.Filters)
        {
            var minimum = long.TryParse(Text(f.Minimum, "filter min"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var min)
                ? min : throw new HardenException($"module '{id}': filter min for {f.Path} must render to a whole number");
            foreach (var path in Paths(f.Path)) yield return new LinesResource(id, path, f.Field, minimum);
        }
        if (module.AccountAging is { } aging)
        {
            int Days(string text, string what) =>
                int.TryParse(Text(text, what), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var days) && days <= 99999
                    ? days
                    : throw new HardenException($"module '{id}': account_aging {what} must render to a whole number of days (0..99999)");
            ImmutableArray<string> Names(string? variable) =>
                variable is not null && variables.TryGetValue(variable, out var v) && v is VariableValue.List list ? list.Items : [];
            yield return new AccountAgingResource(id, Days(aging.MinDays, "min_days"), Days(aging.MaxDays, "max_days"), Days(aging.WarnDays, "warn_days"),
                Names(aging.ExtraUsersFrom), aging.GraceDays is { } grace ? Days(grace, "grace_days") : 0, Names(aging.AutomationFrom), Names(aging.PeopleFrom));
        }
        foreach (var s in module.Services) yield return new ServiceResource(id, s.Name, s.State, s.Start);
        if (module.Verify == "auditctl") yield return new AuditKernelResource(id);
        if (module.Verify == "sysctl")
        {
            // Each setting of the module's sysctl.d files, in the running kernel too (and back on rollback).
            foreach (var f in module.Files)
            {
                foreach (var (key, value) in SysctlResource.Settings(renderer.Render(f.Template, variables))) yield return new SysctlResource(id, key, value);
            }
        }
        foreach (var p in module.Permissions)
        {
            foreach (var path in Paths(p.Path)) yield return new ModeResource(id, path, p.MaxMode);
        }
        var absent = module.AbsentPackagesFrom is { } av && variables[av] is VariableValue.List al ? al.Items : [];
        var removed = module.AbsentPackages.Concat(absent).ToHashSet(StringComparer.Ordinal);
        foreach (var package in module.AbsentPackages.Concat(absent))
        {
            if (!Patterns.PackageName().IsMatch(package)) throw new HardenException($"module '{id}': '{VariableDefinition.Printable(package)}' (from {module.AbsentPackagesFrom}) is not a Debian package name");
            yield return new PackageResource(id, package, present: false, removed);
        }
    }

    /// <summary>A directory mode from a variable: octal, 0000..7777.</summary>
    private static UnixFileMode DirectoryMode(string text, string module) =>
        text.Length is >= 3 and <= 4 && text.All(c => c is >= '0' and <= '7')
            ? (UnixFileMode)Convert.ToInt32(text, 8)
            : throw new HardenException($"module '{module}': directory mode '{VariableDefinition.Printable(text)}' is not an octal mode such as 2770 or 0750");

    [GeneratedRegex(@"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")]
    private static partial Regex WholeVariable();

    /// <summary>A path, or one path per item when the text is just a list variable (<c>{{ phi_directories }}</c>); each checked.</summary>
    private static IEnumerable<string> RenderPaths(string text, string module, ImmutableSortedDictionary<string, VariableValue> variables, TemplateRenderer renderer)
    {
        IEnumerable<string> paths = WholeVariable().Match(text) is { Success: true } m && variables.TryGetValue(m.Groups[1].Value, out var v) && v is VariableValue.List list
            ? list.Items
            : [renderer.RenderInline(text, $"module '{module}' path", variables)];
        foreach (var path in paths)
        {
            if (!SafePath.IsAbsolute(path) || !Patterns.PathChars().IsMatch(path) || path.Length < 2 || path.EndsWith('/'))
                throw new HardenException($"module '{module}': path '{VariableDefinition.Printable(path)}' (from '{text}') must be an absolute path without '..' (letters, digits, . _ - / only)");
            yield return path;
        }
    }

    /// <summary>Two modules may ask for the same thing (a group); asking for different things at one address is an error.</summary>
    private static ImmutableArray<IResource> Deduplicate(Profile profile, List<IResource> resources)
    {
        var kept = new List<IResource>();
        foreach (var group in resources.GroupBy(r => r.Address))
        {
            var first = group.First();
            var other = group.Skip(1).FirstOrDefault(r => !Same(first, r));
            if (other is not null)
                throw new HardenException($"profile '{profile.Name}': {group.Key} is managed by more than one module ({first.Module}, {other.Module}) with different settings");
        }
        foreach (var r in resources)
        {
            if (kept.All(k => k.Address != r.Address)) kept.Add(r);
        }
        var clash = kept.OfType<FileResource>().Select(f => f.Path)
            .Intersect(kept.Select(r => r switch { KeyResource or BlockResource => r.Needs.First().Target, _ => null }).OfType<string>())
            .FirstOrDefault();
        if (clash is not null)
            throw new HardenException($"profile '{profile.Name}': {clash} is managed whole by one module and in part by another");
        return [.. kept];
    }

    private static bool Same(IResource a, IResource b) => (a, b) switch
    {
        (GroupResource, GroupResource) or (MemberResource, MemberResource) or (UserResource, UserResource) => true,
        (PackageResource x, PackageResource y) => x.Present == y.Present,
        _ => false,
    };
}
