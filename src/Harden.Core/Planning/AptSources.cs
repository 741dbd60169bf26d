using System.Text;
using System.Text.RegularExpressions;
using Harden.Host;
using Harden.Resources;

namespace Harden.Planning;

/// <summary>
/// apt must never accept unsigned packages: plan names every source marked trusted (which skips the
/// signature check) and every apt setting that allows insecure or unauthenticated repositories.
/// harden reports them rather than edits them: a source is the operator's, and removing the mark
/// may stop updates until its key is installed. Pure: reads the snapshot only.
/// </summary>
public static partial class AptSources
{
    public const string Verifier = "apt-sources";
    public const string SourceFolder = "/etc/apt/sources.list.d";
    public const string ConfFolder = "/etc/apt/apt.conf.d";
    private const string SourcesList = "/etc/apt/sources.list";
    private const string AptConf = "/etc/apt/apt.conf";

    public static IEnumerable<HostQuery> Needs =>
        [new(HostQueryKind.File, SourcesList), new(HostQueryKind.File, AptConf), new(HostQueryKind.FolderFiles, SourceFolder), new(HostQueryKind.FolderFiles, ConfFolder)];

    public static IEnumerable<string> Findings(HostSnapshot host)
    {
        var sources = host.FolderFiles(SourceFolder).Where(kv => ReadByApt(kv.Key) && (kv.Key.EndsWith(".list", StringComparison.Ordinal) || kv.Key.EndsWith(".sources", StringComparison.Ordinal)))
            .Select(kv => ($"{SourceFolder}/{kv.Key}", kv.Value)).Prepend((SourcesList, host.File(SourcesList)));
        foreach (var (path, file) in sources)
        {
            foreach (var (line, n) in Lines(file))
            {
                if (Trusted().IsMatch(line)) yield return $"{path}:{n} marks a source trusted, so apt installs its packages without checking a signature: {Profiles.VariableDefinition.Printable(line.Trim())}";
            }
        }
        var settings = host.FolderFiles(ConfFolder).Where(kv => ReadByApt(kv.Key)).Select(kv => ($"{ConfFolder}/{kv.Key}", kv.Value)).Prepend((AptConf, host.File(AptConf)));
        foreach (var (path, file) in settings)
        {
            foreach (var (line, n) in Lines(file))
            {
                if (Insecure().IsMatch(line)) yield return $"{path}:{n} lets apt accept unsigned or insecure repositories: {Profiles.VariableDefinition.Printable(line.Trim())}";
            }
        }
    }

    /// <summary>The files apt itself reads: plain names (never one with a newline that could forge a plan line), not its ignored backups.</summary>
    private static bool ReadByApt(string name) => AptName().IsMatch(name) && !IgnoredByApt().IsMatch(name);

    [GeneratedRegex(@"^[A-Za-z0-9_.-]+$")]
    private static partial Regex AptName();

    [GeneratedRegex(@"(\.disabled|\.bak|\.dpkg-[a-z]+|\.ucf-[a-z]+|\.save|\.orig|\.distUpgrade|~)$")]
    private static partial Regex IgnoredByApt();

    private static IEnumerable<(string Line, int Number)> Lines(FileState file) =>
        file.Exists
            ? Encoding.UTF8.GetString(file.Content).Split('\n').Select((l, i) => (l, i + 1)).Where(x => !x.l.TrimStart().StartsWith('#') && !x.l.TrimStart().StartsWith("//", StringComparison.Ordinal))
            : [];

    /// <summary>One-line form <c>[trusted=yes]</c> (among other options) or deb822 <c>Trusted: yes</c>.</summary>
    [GeneratedRegex(@"(\[[^\]]*\btrusted\s*=\s*yes\b[^\]]*\])|(^\s*Trusted:\s*yes\b)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Trusted();

    [GeneratedRegex(@"\b(Acquire::AllowInsecureRepositories|Acquire::AllowDowngradeToInsecureRepositories|APT::Get::AllowUnauthenticated)\s*""?(true|yes|1)""?", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Insecure();
}
