using System.Collections.Immutable;
using Harden.Host;
using Harden.Resources;

namespace Harden.Planning;

/// <summary>
/// The kernel refuses a watch (<c>-w PATH</c>) whose folder does not exist, and auditctl then stops
/// loading at that line, so every rule after it is lost too. A watch whose folder is neither on the
/// host nor made by this plan (a <c>dir:</c> resource makes its parents) is left out of the rules
/// file, as a comment that says why, and plan warns; once the folder exists, the next plan puts the
/// rule back. A missing file in an existing folder is fine: the kernel watches the folder for it.
/// </summary>
public static class AuditWatches
{
    public const string Validator = "audit";

    /// <summary>The folders the watches of the audit rule files name, for the host reader.</summary>
    public static IEnumerable<HostQuery> Needs(IEnumerable<IResource> resources) =>
        resources.OfType<FileResource>().Where(f => f.Validator == Validator)
            .SelectMany(f => Watched(f.Content)).Select(p => new HostQuery(HostQueryKind.Directory, Parent(p)));

    /// <summary>Each audit rules file with the watches that cannot load commented out, and what was left out.</summary>
    public static (List<IResource> Resources, List<string> Warnings) LeaveOutUnloadable(List<IResource> resources, HostSnapshot host)
    {
        var made = resources.OfType<DirectoryResource>().SelectMany(d => SelfAndAncestors(d.Address.Key)).ToHashSet(StringComparer.Ordinal);
        var warnings = new List<string>();
        var result = resources.Select(r =>
        {
            if (r is not FileResource { Validator: Validator } file) return r;
            var lines = file.Content.Split('\n');
            var changed = false;
            for (var i = 0; i < lines.Length; i++)
            {
                if (WatchPath(lines[i]) is not { } path) continue;
                var parent = Parent(path);
                if (host.Directory(parent).Exists || made.Contains(parent)) continue;
                warnings.Add($"module {file.Module}: the audit watch on {path} is left out of {file.Path}: its folder {parent} does not exist " +
                    "(the kernel would refuse it and stop loading the rules after it); create the folder, then apply again");
                lines[i] = $"# harden: left out while {parent} does not exist: {lines[i].Trim()}";
                changed = true;
            }
            return changed
                ? new FileResource(file.Module, file.Path, string.Join('\n', lines), file.Mode, file.Owner, file.Group, file.Validator, file.Sensitive)
                : r;
        }).ToList();
        return (result, warnings);
    }

    private static IEnumerable<string> Watched(string content) => content.Split('\n').Select(WatchPath).OfType<string>();

    private static string? WatchPath(string line)
    {
        var tokens = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return tokens is ["-w", var path, ..] && path.StartsWith('/') ? path.TrimEnd('/') : null;
    }

    private static string Parent(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash <= 0 ? "/" : path[..slash];
    }

    private static IEnumerable<string> SelfAndAncestors(string path)
    {
        for (var p = path.TrimEnd('/'); p.Length > 0; p = Parent(p))
        {
            yield return p;
            if (p == "/") yield break;
        }
    }
}
