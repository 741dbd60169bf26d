using System.CommandLine;
using System.Text;
using Harden.Profiles;

namespace Harden.Cli;

internal static class ProfilesCommand
{
    public static Command Create(Streams io)
    {
        var list = new Command("list", "List the built-in profiles");
        list.SetAction((_, _) => io.GuardAsync(async () =>
        {
            foreach (var name in EmbeddedProfileSource.Instance.Names())
            {
                var profile = ProfileLoader.Load(name);
                await io.Out.WriteLineAsync($"{name,-16} {profile.Description}");
            }
            return ExitCodes.Success;
        }));

        var nameArg = new Argument<string>("NAME") { Description = "Profile name or path to a profile YAML file" };
        var show = new Command("show", "Show a profile's variables (with defaults) and modules (with their HIPAA citations)") { nameArg };
        show.SetAction((r, _) => io.GuardAsync(async () =>
        {
            await io.Out.WriteAsync(Describe(ProfileLoader.Load(r.GetValue(nameArg)!)));
            return ExitCodes.Success;
        }));

        return new Command("profiles", "List and describe profiles") { list, show };
    }

    private static string Describe(Profile p)
    {
        var sb = new StringBuilder();
        sb.Append($"{p.Name}: {p.Description}\n");
        sb.Append($"platform: {p.Platform}   lineage: {string.Join(" -> ", p.Lineage)}\n\nVariables (override with --set NAME=VALUE):\n");
        foreach (var v in p.Variables)
        {
            var range = v.Min is not null || v.Max is not null ? $" [{v.Min}..{v.Max}]" : "";
            var def = v.Default is { } d ? d.ToString() : v.Optional ? "(unset)" : "(required)";
            sb.Append($"  {v.Name,-22} {v.Type.ToString().ToLowerInvariant()}{range}  default: {(def!.Length == 0 ? "(unset)" : def)}\n");
            if (v.Description.Length > 0) sb.Append($"  {"",-22} {v.Description}\n");
        }
        sb.Append("\nModules:\n");
        foreach (var m in p.Modules)
        {
            sb.Append($"  {m.Id,-16} {m.Title}\n");
            sb.Append($"  {"",-16} HIPAA: {string.Join(", ", m.Citations.Select(c => "45 CFR " + c))}\n");
            foreach (var f in m.Files) sb.Append($"  {"",-16} {f.Path} ({Planning.Planner.Octal(f.Mode)} {f.Owner}:{f.Group}) from {f.Template}\n");
            foreach (var k in m.Keys) sb.Append($"  {"",-16} {k.Key} {k.Value} in {k.Path}\n");
            foreach (var b in m.Blocks) sb.Append($"  {"",-16} block at the {b.Position} of {b.Path} from {b.Template}\n");
            foreach (var d in m.Directories) sb.Append($"  {"",-16} directory {d.Path} ({Planning.Planner.Octal(d.Mode)} {d.Owner}:{d.Group})\n");
            foreach (var sv in m.Services) sb.Append($"  {"",-16} service {sv.Name} {sv.State}\n");
            if (m.Packages.Length > 0) sb.Append($"  {"",-16} packages: {string.Join(", ", m.Packages)}\n");
            if (m.AbsentPackages.Length > 0) sb.Append($"  {"",-16} packages removed if present: {string.Join(", ", m.AbsentPackages)}\n");
            if (m.Requires.Length > 0) sb.Append($"  {"",-16} only when set: {string.Join(", ", m.Requires)}\n");
            if (m.Unless.Length > 0) sb.Append($"  {"",-16} skipped when set: {string.Join(", ", m.Unless)}\n");
        }
        return sb.ToString();
    }
}
