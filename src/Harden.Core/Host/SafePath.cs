namespace Harden.Host;

/// <summary>
/// The two path shapes harden accepts from profiles, templates and the host: one rule each, so a
/// path can never escape its folder through a check that was written slightly differently.
/// </summary>
public static class SafePath
{
    /// <summary>An absolute path with no "." or ".." segment (a target inside the root).</summary>
    public static bool IsAbsolute(string path) =>
        path.StartsWith('/') && !path.Split('/').Any(s => s is ".." or ".");

    /// <summary>
    /// The path as the kernel resolves it without following links: repeated slashes folded, "."
    /// segments and a trailing slash dropped ("/home//alice/" is "/home/alice", "/home/" is "/home").
    /// ".." is kept, so <see cref="IsAbsolute"/> still refuses it.
    /// </summary>
    public static string Normalize(string path)
    {
        if (!path.StartsWith('/')) return path;
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => s != ".");
        return "/" + string.Join('/', parts);
    }

    /// <summary>A relative path with no empty, "." or ".." segment (a template inside templates/).</summary>
    public static bool IsRelative(string path) =>
        path.Length > 0 && !path.StartsWith('/') && !path.Split('/').Any(s => s is ".." or "." or "");
}
