using System.Collections.Immutable;
using Harden.Host;
using Harden.Resources;

namespace Harden.Planning;

/// <summary>
/// Every setuid and setgid program on the target gets its own audit rule (<c>-F path=… -F perm=x</c>),
/// as auditors' scanners expect: which programs those are is a fact of the host, so the rules file
/// carries a marker line (<c>## harden: privileged programs under /usr /opt</c>) that planning fills
/// from a read-only scan of those folders. The plan's diff therefore lists each program.
/// </summary>
public static class AuditPrivileged
{
    public const string Marker = "## harden: privileged programs under ";

    /// <summary>The rule for one program: run by a real user (not a daemon, not before login).</summary>
    public static string Rule(string program) => $"-a always,exit -F path={program} -F perm=x -F auid>=1000 -F auid!=unset -k privileged";

    public static IEnumerable<HostQuery> Needs(IEnumerable<IResource> resources) =>
        resources.OfType<FileResource>().Where(f => f.Validator == AuditWatches.Validator)
            .SelectMany(f => f.Content.Split('\n')).SelectMany(Folders).Select(d => new HostQuery(HostQueryKind.PrivilegedPrograms, d));

    /// <summary>Each audit rules file with its marker lines replaced by one rule per program found under the named folders.</summary>
    public static List<IResource> Expand(List<IResource> resources, HostSnapshot host) =>
        resources.Select(r =>
        {
            if (r is not FileResource { Validator: AuditWatches.Validator } file || !file.Content.Contains(Marker, StringComparison.Ordinal)) return r;
            var lines = file.Content.Split('\n').SelectMany(line =>
            {
                var folders = Folders(line).ToList();
                if (folders.Count == 0) return [line];
                var found = folders.SelectMany(f => host.PrivilegedProgramsUnder(f)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
                // Anyone may set the setuid bit on a file of their own: a name with a newline or a space
                // would otherwise add rules of its choosing (-D, -e 0). Such names are left out, and counted.
                var programs = found.Where(p => Profiles.Patterns.PathChars().IsMatch(p)).ToList();
                var odd = found.Count - programs.Count;
                return (IEnumerable<string>)[
                    $"## {programs.Count} setuid/setgid programs found under {string.Join(' ', folders)} when this was planned",
                    .. odd > 0 ? [$"## {odd} more left out: their names hold characters an audit rule cannot (find them with find -perm /6000)"] : Array.Empty<string>(),
                    .. programs.Select(Rule)];
            });
            return new FileResource(file.Module, file.Path, string.Join('\n', lines), file.Mode, file.Owner, file.Group, file.Validator, file.Sensitive);
        }).ToList();

    private static IEnumerable<string> Folders(string line) =>
        line.StartsWith(Marker, StringComparison.Ordinal)
            ? line[Marker.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => SafePath.IsAbsolute(p))
            : [];

    /// <summary>setuid or setgid, and executable by someone: what <c>find -perm /6000 -perm /111</c> finds.</summary>
    public static bool IsPrivileged(UnixFileMode mode) =>
        (mode & (UnixFileMode.SetUser | UnixFileMode.SetGroup)) != 0 &&
        (mode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
}
