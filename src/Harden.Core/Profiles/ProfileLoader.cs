using System.Collections.Immutable;
using System.Globalization;
using Harden.Host;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Harden.Profiles;

/// <summary>
/// Reads profile YAML into a <see cref="Profile"/>, following <c>extends</c>. Uses YamlDotNet's node
/// model rather than reflection-based deserialisation: it keeps start-up cheap and NativeAOT-safe, and
/// every node carries its line, so each error can say file and line.
/// </summary>
public sealed class ProfileLoader(IProfileSource source)
{
    private const int MaxDepth = 8;

    /// <summary>Loads a profile by shipped name or by path to a YAML file.</summary>
    public static Profile Load(string nameOrPath)
    {
        if (LooksLikePath(nameOrPath))
        {
            var full = Path.GetFullPath(nameOrPath);
            if (!File.Exists(full)) throw new HardenException($"profile file '{nameOrPath}' does not exist");
            // The operator's own path may be a link; its folder is where the profile really lives (and
            // where its 'extends' are looked up), read from then on through a handle, never via links.
            full = new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full;
            var dir = Path.GetDirectoryName(full)!;
            var loader = new ProfileLoader(new LayeredProfileSource(new DirectoryProfileSource(dir), EmbeddedProfileSource.Instance));
            return loader.LoadNamed(Path.GetFileNameWithoutExtension(full));
        }
        return new ProfileLoader(EmbeddedProfileSource.Instance).LoadNamed(nameOrPath);
    }

    public static bool LooksLikePath(string s) =>
        s.Contains('/') || s.EndsWith(".yaml", StringComparison.Ordinal) || s.EndsWith(".yml", StringComparison.Ordinal);

    public Profile LoadNamed(string name)
    {
        var chain = new List<ProfileDocument>();
        var current = name;
        while (current is not null)
        {
            if (!Patterns.ProfileName().IsMatch(current))
                throw new HardenException($"profile name '{VariableDefinition.Printable(current)}' is not valid: a profile is named by letters, digits, '.', '_' and '-' and lives in its folder");
            if (chain.Any(d => d.Name == current))
                throw new HardenException($"profile '{name}': 'extends' forms a cycle ({string.Join(" -> ", chain.Select(d => d.Name).Append(current))})");
            if (chain.Count >= MaxDepth)
                throw new HardenException($"profile '{name}': 'extends' is nested deeper than {MaxDepth}");
            var found = source.TryRead(current) ?? throw UnknownProfile(current, chain.LastOrDefault());
            var doc = ProfileDocument.Parse(current, found.Text, found.Origin);
            chain.Add(doc);
            current = doc.Extends;
        }
        chain.Reverse();
        return Merge(chain);
    }

    private HardenException UnknownProfile(string name, ProfileDocument? child)
    {
        var known = string.Join(", ", source.Names());
        var where = child is null ? "" : $" (extended by {child.Origin})";
        return new HardenException($"unknown profile '{name}'{where}; known profiles: {known}");
    }

    private static Profile Merge(List<ProfileDocument> chain)
    {
        var variables = new List<VariableSpec>();
        var handlers = ImmutableDictionary.CreateBuilder<string, Handler>(StringComparer.Ordinal);
        var modules = new List<Module>();
        foreach (var doc in chain)
        {
            foreach (var spec in doc.Variables)
            {
                var i = variables.FindIndex(v => v.Name == spec.Name);
                if (i >= 0) variables[i] = variables[i].OverriddenBy(spec);
                else variables.Add(spec);
            }
            foreach (var h in doc.Handlers) handlers[h.Id] = h;
            foreach (var id in doc.RemoveModules)
            {
                if (modules.RemoveAll(m => m.Id == id) == 0)
                    throw new HardenException($"{doc.Origin}: remove_modules names '{id}', which no base profile has");
            }
            foreach (var m in doc.Modules)
            {
                var i = modules.FindIndex(x => x.Id == m.Id);
                if (i >= 0) modules[i] = m;
                else modules.Add(m);
            }
        }

        var top = chain[^1];
        var definitions = variables.Select(v => v.Build()).ToImmutableArray();
        var profile = new Profile(
            top.Name,
            top.Description ?? chain.Select(d => d.Description).LastOrDefault(d => d is not null) ?? "",
            chain.Select(d => d.Platform).LastOrDefault(p => p is not null) ?? "linux",
            top.Origin,
            [.. chain.Select(d => d.Name)],
            definitions,
            [.. modules],
            handlers.ToImmutable())
        {
            // The nearest document that says which releases it supports decides (a clinic's own profile may narrow it).
            Supports = chain.Select(d => d.Supports).LastOrDefault(s => !s.IsEmpty, ImmutableArray<string>.Empty),
            ReleaseDefaults = chain.SelectMany(d => d.ReleaseDefaults).GroupBy(kv => kv.Key, StringComparer.Ordinal)
                .ToImmutableDictionary(g => g.Key, g => g.Aggregate(ImmutableDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal),
                    (all, kv) => all.SetItems(kv.Value)), StringComparer.Ordinal),
        };
        CheckReferences(profile, chain);
        return profile;
    }

    /// <summary>Names that modules use must exist, so a typo fails at load time, not mid-apply.</summary>
    private static void CheckReferences(Profile profile, List<ProfileDocument> chain)
    {
        var origin = string.Join(", ", chain.Select(d => d.Origin));
        foreach (var (release, defaults) in profile.ReleaseDefaults)
        {
            foreach (var name in defaults.Keys.Where(n => profile.FindVariable(n) is null))
                throw new HardenException($"{origin}: releases: '{release}' sets variable '{name}', which is not declared");
        }
        foreach (var m in profile.Modules)
        {
            foreach (var h in m.Handlers)
            {
                if (!profile.Handlers.ContainsKey(h))
                    throw new HardenException($"{origin}: module '{m.Id}' names handler '{h}', which is not defined (defined: {string.Join(", ", profile.Handlers.Keys.Order())})");
            }
            foreach (var r in m.Requires.Append(m.GroupsFrom).Append(m.MembersFrom).Append(m.AccountAging?.ExtraUsersFrom).Append(m.SystemUsersFrom).Append(m.AbsentPackagesFrom).Concat(m.Unless).OfType<string>())
            {
                if (profile.FindVariable(r) is null)
                    throw new HardenException($"{origin}: module '{m.Id}' refers to variable '{r}', which is not declared");
            }
            foreach (var g in new[] { m.GroupsFrom, m.MembersFrom, m.AccountAging?.ExtraUsersFrom, m.SystemUsersFrom, m.AbsentPackagesFrom }.OfType<string>())
            {
                if (profile.FindVariable(g)!.Type != VariableType.Names)
                    throw new HardenException($"{origin}: module '{m.Id}': groups_from, members_from, extra_users_from, system_users_from and absent_packages_from must name variables of type names");
            }
        }
    }
}

/// <summary>A variable as one profile document states it; fields left null are inherited.</summary>
internal sealed record VariableSpec(
    string Name, string Origin, int Line, VariableType? Type, string? Default, string? Description,
    long? Min, long? Max, bool? Optional, PathRole? Role = null)
{
    public VariableSpec OverriddenBy(VariableSpec child) => new(
        Name, child.Origin, child.Line, child.Type ?? Type, child.Default ?? Default,
        child.Description ?? Description, child.Min ?? Min, child.Max ?? Max, child.Optional ?? Optional, child.Role ?? Role);

    public VariableDefinition Build()
    {
        if (Type is not { } type)
            throw new HardenException($"{Origin}:{Line}: variable '{Name}' has no type (string, int, bool, host, port, names, path, paths, networks, ports, mode, time)");
        var definition = new VariableDefinition(Name, type, null, Description ?? "", Min, Max, Optional ?? false) { Role = Role };
        if (Default is null)
            return definition;
        try
        {
            return definition with { Default = definition.Parse(Default) };
        }
        catch (HardenException e)
        {
            throw new HardenException($"{Origin}:{Line}: default of {e.Message}");
        }
    }
}

/// <summary>One YAML profile file, checked key by key so that a misspelt key is an error with its line.</summary>
internal sealed record ProfileDocument(
    string Name, string Origin, string? Extends, string? Description, string? Platform,
    ImmutableArray<VariableSpec> Variables, ImmutableArray<Handler> Handlers,
    ImmutableArray<Module> Modules, ImmutableArray<string> RemoveModules)
{
    /// <summary>"ID VERSION" pairs from os-release this profile is made for, e.g. "debian 12".</summary>
    public ImmutableArray<string> Supports { get; init; } = [];

    /// <summary>Per release ("debian 11"), variable defaults that differ there (an older OpenSSH's algorithms).</summary>
    public ImmutableDictionary<string, ImmutableDictionary<string, string>> ReleaseDefaults { get; init; } =
        ImmutableDictionary<string, ImmutableDictionary<string, string>>.Empty;

    public static ProfileDocument Parse(string name, string text, string origin)
    {
        YamlLimits.Check(text, origin);
        var yaml = new YamlStream();
        try
        {
            yaml.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new HardenException($"{origin}:{e.Start.Line}:{e.Start.Column}: malformed YAML: {(e.InnerException ?? e).Message}");
        }
        if (yaml.Documents.Count != 1 || yaml.Documents[0].RootNode is not YamlMappingNode root)
            throw new HardenException($"{origin}: a profile is one YAML mapping (name, description, variables, modules, …)");

        var r = new Reader(origin);
        r.OnlyKeys(root, "name", "description", "platform", "supports", "releases", "extends", "variables", "handlers", "modules", "remove_modules");
        var declared = r.OptionalScalar(root, "name");
        if (declared is not null && declared != name)
            throw new HardenException($"{origin}: 'name: {declared}' does not match the file name '{name}'");

        var variables = ImmutableArray.CreateBuilder<VariableSpec>();
        if (r.Optional<YamlMappingNode>(root, "variables") is { } vars)
        {
            foreach (var (key, value) in vars.Children)
            {
                var varName = r.Scalar(key);
                if (!Patterns.Identifier().IsMatch(varName))
                    throw r.Error(key, $"variable name '{varName}' is not an identifier (letters, digits, '_')");
                if (varName.StartsWith("harden_", StringComparison.Ordinal))
                    throw r.Error(key, $"variable name '{varName}' is reserved: names starting with harden_ are harden's own (harden_profile, harden_settings)");
                var v = r.Expect<YamlMappingNode>(value, $"variable '{varName}'");
                r.OnlyKeys(v, "type", "default", "description", "min", "max", "optional", "role");
                VariableType? type = r.OptionalScalar(v, "type") is { } t
                    ? Enum.TryParse<VariableType>(t, ignoreCase: true, out var parsed) && t.All(char.IsLower)
                        ? parsed
                        : throw r.Error(v, $"variable '{varName}': unknown type '{t}' (string, int, bool, host, port, names, path, paths, networks, ports, mode, time)")
                    : null;
                string? def = v.Children.TryGetValue(new YamlScalarNode("default"), out var d)
                    ? d switch
                    {
                        YamlSequenceNode seq => string.Join(",", seq.Children.Select(r.Scalar)),
                        _ => r.Scalar(d),
                    }
                    : null;
                PathRole? role = r.OptionalScalar(v, "role") is { } ro
                    ? Enum.TryParse<PathRole>(ro, ignoreCase: true, out var pr) && ro.All(char.IsLower) ? pr
                        : throw r.Error(v, $"variable '{varName}': unknown role '{ro}' (data, output, program)")
                    : null;
                variables.Add(new VariableSpec(varName, origin, (int)key.Start.Line, type, def,
                    r.OptionalScalar(v, "description"), r.OptionalLong(v, "min"), r.OptionalLong(v, "max"),
                    r.OptionalBool(v, "optional"), role));
            }
        }

        var handlers = ImmutableArray.CreateBuilder<Handler>();
        if (r.Optional<YamlMappingNode>(root, "handlers") is { } hs)
        {
            foreach (var (key, value) in hs.Children)
            {
                var h = r.Expect<YamlMappingNode>(value, $"handler '{r.Scalar(key)}'");
                r.OnlyKeys(h, "description", "run", "offline", "live_only", "touches", "requires_path");
                handlers.Add(new Handler(r.Scalar(key), r.OptionalScalar(h, "description") ?? "",
                    r.List(h, "run", required: true), r.List(h, "offline"), r.OptionalBool(h, "live_only") ?? false, r.List(h, "touches"))
                {
                    RequiresPath = r.OptionalScalar(h, "requires_path") is { } needed
                        ? SafePath.IsAbsolute(needed) ? needed : throw r.Error(h, $"handler '{r.Scalar(key)}': requires_path must be an absolute path")
                        : null,
                });
            }
        }

        var modules = ImmutableArray.CreateBuilder<Module>();
        if (r.Optional<YamlSequenceNode>(root, "modules") is { } ms)
        {
            foreach (var node in ms.Children)
                modules.Add(ParseModule(r, r.Expect<YamlMappingNode>(node, "module")));
        }
        var dupe = modules.GroupBy(m => m.Id).FirstOrDefault(g => g.Count() > 1);
        if (dupe is not null) throw new HardenException($"{origin}: module id '{dupe.Key}' appears twice");

        return new ProfileDocument(name, origin, r.OptionalScalar(root, "extends"), r.OptionalScalar(root, "description"),
            r.OptionalScalar(root, "platform"), variables.ToImmutable(), handlers.ToImmutable(), modules.ToImmutable(),
            r.List(root, "remove_modules"))
        {
            ReleaseDefaults = ParseReleases(r, root),
            Supports = [.. r.List(root, "supports").Select(s => Patterns.Release().IsMatch(s) ? s : throw r.Error(root, $"supports: '{s}' is not \"ID VERSION\" as in os-release, e.g. \"debian 12\""))],
        };
    }

    /// <summary><c>releases: {"debian 11": {variable: value}}</c>: defaults for one release, values as a variable's default is written.</summary>
    private static ImmutableDictionary<string, ImmutableDictionary<string, string>> ParseReleases(Reader r, YamlMappingNode root)
    {
        var found = ImmutableDictionary.CreateBuilder<string, ImmutableDictionary<string, string>>(StringComparer.Ordinal);
        if (r.Optional<YamlMappingNode>(root, "releases") is not { } releases) return found.ToImmutable();
        foreach (var (key, value) in releases.Children)
        {
            var release = r.Scalar(key);
            if (!Patterns.Release().IsMatch(release)) throw r.Error(key, $"releases: '{release}' is not \"ID VERSION\" as in os-release, e.g. \"debian 11\"");
            var defaults = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
            foreach (var (name, v) in r.Expect<YamlMappingNode>(value, $"release '{release}'").Children)
                defaults[r.Scalar(name)] = v is YamlSequenceNode seq ? string.Join(",", seq.Children.Select(r.Scalar)) : r.Scalar(v);
            found[release] = defaults.ToImmutable();
        }
        return found.ToImmutable();
    }

    private static Module ParseModule(Reader r, YamlMappingNode m)
    {
        r.OnlyKeys(m, "id", "title", "citations", "files", "keys", "blocks", "directories", "packages", "absent_packages",
            "services", "groups_from", "members_from", "requires", "handlers", "verify", "account_aging", "unless", "private_files", "system_users_from", "filters",
            "permissions", "absent_packages_from");
        var id = r.RequiredScalar(m, "id");
        var files = ImmutableArray.CreateBuilder<ManagedFile>();
        foreach (var f in r.Mappings(m, "files", $"file of module '{id}'"))
        {
            r.OnlyKeys(f, "path", "template", "mode", "owner", "group", "validate", "sensitive", "keep_owners_of", "keep_owners_except_from", "sshd_ports");
            var keepOwnersOf = r.OptionalScalar(f, "keep_owners_of");
            if (keepOwnersOf is not null && keepOwnersOf is not (Access.AccountFactsReader.Crontabs or Access.AccountFactsReader.AtJobs))
                throw r.Error(f, $"module '{id}': keep_owners_of must be {Access.AccountFactsReader.Crontabs} or {Access.AccountFactsReader.AtJobs}");
            files.Add(new ManagedFile(TargetPath(r, f, id), Template(r, f, id), Mode(r, f, id, "0644", 0x1FF),
                r.OptionalScalar(f, "owner") ?? "root", r.OptionalScalar(f, "group") ?? "root",
                Known(r, f, "validate", KnownNames.Validators, id), r.OptionalBool(f, "sensitive") ?? false)
            {
                KeepOwnersOf = keepOwnersOf,
                KeepOwnersExceptFrom = r.OptionalScalar(f, "keep_owners_except_from"),
                SshdPorts = r.OptionalBool(f, "sshd_ports") ?? false,
            });
        }
        var keys = ImmutableArray.CreateBuilder<ManagedKey>();
        foreach (var k in r.Mappings(m, "keys", $"key of module '{id}'"))
        {
            r.OnlyKeys(k, "path", "key", "value", "separator");
            var key = r.RequiredScalar(k, "key");
            if (!Patterns.Identifier().IsMatch(key)) throw r.Error(k, $"module '{id}': key '{key}' is not a plain name");
            var separator = r.OptionalScalar(k, "separator") ?? " ";
            if (separator is not (" " or " = " or "=" or "\t"))
                throw r.Error(k, $"module '{id}': separator must be \" \", \" = \", \"=\" or \"\\t\"");
            keys.Add(new ManagedKey(TargetPath(r, k, id), key, r.RequiredScalar(k, "value"), separator == "\\t" ? "\t" : separator));
        }
        var blocks = ImmutableArray.CreateBuilder<ManagedBlock>();
        foreach (var b in r.Mappings(m, "blocks", $"block of module '{id}'"))
        {
            r.OnlyKeys(b, "path", "template", "position", "validate");
            blocks.Add(new ManagedBlock(TargetPath(r, b, id), Template(r, b, id),
                Known(r, b, "position", KnownNames.BlockPositions, id) ?? "end", Known(r, b, "validate", KnownNames.Validators, id)));
        }
        var directories = ImmutableArray.CreateBuilder<ManagedDirectory>();
        foreach (var d in r.Mappings(m, "directories", $"directory of module '{id}'"))
        {
            r.OnlyKeys(d, "path", "owner", "group", "mode", "create_only");
            var templated = r.OptionalScalar(d, "mode") is { } modeText && modeText.Contains("{{", StringComparison.Ordinal) ? modeText : null;
            directories.Add(new ManagedDirectory(TargetPath(r, d, id), r.OptionalScalar(d, "owner") ?? "root",
                r.OptionalScalar(d, "group") ?? "root", templated is null ? Mode(r, d, id, "0755", 0xFFF) : 0)
            {
                ModeTemplate = templated,
                CreateOnly = r.OptionalBool(d, "create_only") ?? false,
            });
        }
        var services = ImmutableArray.CreateBuilder<ManagedService>();
        foreach (var sv in r.Mappings(m, "services", $"service of module '{id}'"))
        {
            r.OnlyKeys(sv, "name", "state", "start");
            var name = r.RequiredScalar(sv, "name");
            if (!Patterns.UnitName().IsMatch(name)) throw r.Error(sv, $"module '{id}': '{name}' is not a systemd unit name");
            services.Add(new ManagedService(name, Known(r, sv, "state", KnownNames.ServiceStates, id) ?? "enabled", r.OptionalBool(sv, "start") ?? true));
        }
        var filters = ImmutableArray.CreateBuilder<ManagedFilter>();
        foreach (var f in r.Mappings(m, "filters", $"filter of module '{id}'"))
        {
            r.OnlyKeys(f, "path", "field", "min");
            var field = r.OptionalLong(f, "field") is { } n and >= 1 and <= 64 ? (int)n : throw r.Error(f, $"module '{id}': filter field must be a column number 1..64");
            filters.Add(new ManagedFilter(TargetPath(r, f, id), field, r.RequiredScalar(f, "min")));
        }
        var permissions = ImmutableArray.CreateBuilder<ManagedPermission>();
        foreach (var p in r.Mappings(m, "permissions", $"permission of module '{id}'"))
        {
            r.OnlyKeys(p, "path", "max_mode");
            permissions.Add(new ManagedPermission(TargetPath(r, p, id), Mode(r, p, id, "max_mode", "0755", 0xFFF)));
        }
        ManagedAging? aging = null;
        if (r.Optional<YamlMappingNode>(m, "account_aging") is { } a)
        {
            r.OnlyKeys(a, "min_days", "max_days", "warn_days", "extra_users_from", "grace_days", "automation_from", "people_from");
            aging = new ManagedAging(r.RequiredScalar(a, "min_days"), r.RequiredScalar(a, "max_days"), r.RequiredScalar(a, "warn_days"),
                r.OptionalScalar(a, "extra_users_from"), r.OptionalScalar(a, "grace_days"), r.OptionalScalar(a, "automation_from"), r.OptionalScalar(a, "people_from"));
        }
        foreach (var package in r.List(m, "packages").Concat(r.List(m, "absent_packages")))
        {
            if (!Patterns.PackageName().IsMatch(package)) throw r.Error(m, $"module '{id}': '{package}' is not a Debian package name");
        }
        return new Module(id, r.OptionalScalar(m, "title") ?? id, r.List(m, "citations"), files.ToImmutable(),
            r.List(m, "packages"), r.OptionalScalar(m, "groups_from"), r.OptionalScalar(m, "members_from"), r.List(m, "requires"), r.List(m, "handlers"),
            Known(r, m, "verify", KnownNames.Verifiers, id))
        {
            Keys = keys.ToImmutable(),
            Blocks = blocks.ToImmutable(),
            Directories = directories.ToImmutable(),
            AbsentPackages = r.List(m, "absent_packages"),
            Services = services.ToImmutable(),
            AccountAging = aging,
            Unless = r.List(m, "unless"),
            PrivateFiles = r.List(m, "private_files"),
            SystemUsersFrom = r.OptionalScalar(m, "system_users_from"),
            Filters = filters.ToImmutable(),
            Permissions = permissions.ToImmutable(),
            AbsentPackagesFrom = r.OptionalScalar(m, "absent_packages_from"),
        };
    }

    /// <summary>An absolute target path, or one made of variables (<c>{{ banner_path }}</c>) that is checked once rendered.</summary>
    private static string TargetPath(Reader r, YamlMappingNode node, string id)
    {
        var path = r.RequiredScalar(node, "path");
        if (path.Contains("{{", StringComparison.Ordinal)) return path;
        if (!SafePath.IsAbsolute(path) || path.Length > 1 && path.EndsWith('/'))
            throw r.Error(node, $"module '{id}': path '{path}' must be an absolute path without '.' or '..'");
        return path;
    }

    private static string Template(Reader r, YamlMappingNode node, string id)
    {
        var template = r.RequiredScalar(node, "template");
        if (!SafePath.IsRelative(template))
            throw r.Error(node, $"module '{id}': template '{template}' must be a relative path inside templates/");
        return template;
    }

    private static UnixFileMode Mode(Reader r, YamlMappingNode node, string id, string fallback, int max) => Mode(r, node, id, "mode", fallback, max);

    private static UnixFileMode Mode(Reader r, YamlMappingNode node, string id, string field, string fallback, int max)
    {
        var text = r.OptionalScalar(node, field) ?? fallback;
        int mode;
        try
        {
            mode = Convert.ToInt32(text, 8);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            throw r.Error(node, $"module '{id}': mode '{text}' is not octal, e.g. \"0644\"");
        }
        if (mode < 0 || mode > max) throw r.Error(node, $"module '{id}': mode '{text}' must be within 0000..{Convert.ToString(max, 8)}");
        return (UnixFileMode)mode;
    }

    /// <summary>A value that must be one of a fixed set (validators, verifiers, states): a typo fails at load time with its line.</summary>
    private static string? Known(Reader r, YamlMappingNode node, string key, ImmutableArray<string> known, string id)
    {
        if (r.OptionalScalar(node, key) is not { } value) return null;
        if (!known.Contains(value))
            throw r.Error(node.Children[new YamlScalarNode(key)], $"module '{id}': unknown {key} '{value}' (known: {string.Join(", ", known)})");
        return value;
    }

    /// <summary>Typed access to YAML nodes; every error names file and line.</summary>
    private sealed class Reader(string origin)
    {
        public HardenException Error(YamlNode node, string message) =>
            new($"{origin}:{node.Start.Line}: {message}");

        public void OnlyKeys(YamlMappingNode node, params string[] allowed)
        {
            foreach (var key in node.Children.Keys)
            {
                var k = Scalar(key);
                if (!allowed.Contains(k))
                    throw Error(key, $"unknown key '{k}' (expected one of: {string.Join(", ", allowed)})");
            }
        }

        public T Expect<T>(YamlNode node, string what) where T : YamlNode =>
            node as T ?? throw Error(node, $"{what} must be a {(typeof(T) == typeof(YamlMappingNode) ? "mapping" : typeof(T) == typeof(YamlSequenceNode) ? "list" : "scalar")}");

        public string Scalar(YamlNode node) =>
            node is YamlScalarNode { Value: { } v } ? v : throw Error(node, "expected a single value");

        public T? Optional<T>(YamlMappingNode node, string key) where T : YamlNode =>
            node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? Expect<T>(v, $"'{key}'") : null;

        public string? OptionalScalar(YamlMappingNode node, string key) =>
            node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? Scalar(v) : null;

        public string RequiredScalar(YamlMappingNode node, string key) =>
            OptionalScalar(node, key) ?? throw Error(node, $"'{key}' is required");

        public long? OptionalLong(YamlMappingNode node, string key)
        {
            if (OptionalScalar(node, key) is not { } s) return null;
            return long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
                ? n : throw Error(node.Children[new YamlScalarNode(key)], $"'{key}' must be a whole number");
        }

        public bool? OptionalBool(YamlMappingNode node, string key) => OptionalScalar(node, key) switch
        {
            null => null,
            "true" or "yes" => true,
            "false" or "no" => false,
            var s => throw Error(node.Children[new YamlScalarNode(key)], $"'{key}' must be true or false, not '{s}'"),
        };

        public IEnumerable<YamlMappingNode> Mappings(YamlMappingNode node, string key, string what) =>
            Optional<YamlSequenceNode>(node, key) is { } seq ? seq.Children.Select(c => Expect<YamlMappingNode>(c, what)) : [];

        public ImmutableArray<string> List(YamlMappingNode node, string key, bool required = false)
        {
            if (Optional<YamlSequenceNode>(node, key) is not { } seq)
                return required ? throw Error(node, $"'{key}' is required") : [];
            return [.. seq.Children.Select(Scalar)];
        }
    }
}
