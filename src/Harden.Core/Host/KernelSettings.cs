using System.Text.RegularExpressions;

namespace Harden.Host;

/// <summary>Reads the running kernel's settings from <c>/proc/sys</c> (live hosts only; never written here).</summary>
public static partial class KernelSettings
{
    /// <summary>A sysctl name harden will map to a path: dotted words, nothing that could climb out of /proc/sys.</summary>
    public static bool IsKey(string key) => KeyPattern().IsMatch(key);

    /// <summary>The value as the kernel prints it, or null when the setting does not exist (or cannot be read).</summary>
    public static string? Read(string key)
    {
        if (!IsKey(key)) return null;
        try
        {
            return File.ReadAllText("/proc/sys/" + key.Replace('.', '/')).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"^[a-z0-9_]+(\.[a-z0-9_-]+)+$")]
    private static partial Regex KeyPattern();
}
