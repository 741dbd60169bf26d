using System.CommandLine;

namespace Harden.Cli;

/// <summary>Options shared by plan and apply; one instance per command, as System.CommandLine requires.</summary>
internal sealed class CommonOptions
{
    public Option<string> Profile { get; } = new("--profile", "-p")
    {
        Description = "Profile name (see 'harden profiles list') or path to a profile YAML file; default: the shipped profile for the root's release (os-release)",
        HelpName = "NAME|PATH",
    };

    public Option<string> Root { get; } = new("--root")
    {
        Description = "Root of the system to harden: / for this host, or a mounted image for offline use",
        HelpName = "DIR",
        DefaultValueFactory = _ => "/",
    };

    /// <summary>
    /// On every command (recursive): no plan listing and no progress, only the one-line result,
    /// warnings and errors. The exit code says the same.
    /// </summary>
    public static readonly Option<bool> Quiet = new("--quiet", "-q")
    {
        Description = "Print only the one-line result, warnings and errors (no listing, no progress)",
        Recursive = true,
    };

    public Option<string[]> Set { get; } = new("--set")
    {
        Description = "Set a profile variable (repeatable; lists are comma-separated)",
        HelpName = "KEY=VALUE",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string> Format { get; } = new("--format")
    {
        Description = "Output format: text, or json (one document with format_version, nothing else on stdout)",
        DefaultValueFactory = _ => "text",
    };

    public Option<string?> Templates { get; } = new("--templates")
    {
        Description = "Folder of templates that override the built-in ones (paths cannot leave it)",
        HelpName = "DIR",
    };

    public Option<string?> Operator { get; } = new("--operator")
    {
        Description = "The user who must still be able to log in over SSH afterwards (default: $SUDO_USER)",
        HelpName = "USER",
    };

    public Option<bool> ForcePlatform { get; } = new("--force-platform")
    {
        Description = "Run the profile even on a release it does not list as supported (os-release ID and VERSION_ID)",
    };

    public CommonOptions() => Format.AcceptOnlyFromAmong("text", "json");

    public IEnumerable<Option> All => [Profile, Root, Set, Format, Templates, Operator, ForcePlatform];

    public PlanRequest Request(ParseResult r) => new(
        r.GetValue(Profile),
        r.GetValue(Set) ?? [],
        r.GetValue(Templates),
        r.GetValue(Operator) ?? NonEmpty(Environment.GetEnvironmentVariable("SUDO_USER")),
        r.GetValue(ForcePlatform));

    private static string? NonEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    public bool Json(ParseResult r) => r.GetValue(Format) == "json";
}
