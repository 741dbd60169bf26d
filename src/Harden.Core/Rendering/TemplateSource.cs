using System.Reflection;

namespace Harden.Rendering;

/// <summary>Where template texts come from. Names are relative paths inside <c>templates/</c>.</summary>
public interface ITemplateSource
{
    string? TryRead(string name);
}

public sealed class EmbeddedTemplateSource : ITemplateSource
{
    public static readonly EmbeddedTemplateSource Instance = new();
    private static readonly Assembly Assembly = typeof(EmbeddedTemplateSource).Assembly;

    public string? TryRead(string name)
    {
        using var stream = Assembly.GetManifestResourceStream("templates/" + name);
        if (stream is null) return null;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

/// <summary>
/// Templates in a folder (<c>--templates DIR</c>), over the built-in ones. A name that would resolve
/// outside the folder, directly or through a symlink, is refused.
/// </summary>
public sealed class DirectoryTemplateSource(string directory, ITemplateSource fallback) : ITemplateSource
{
    private readonly string _root = Path.GetFullPath(directory).TrimEnd('/');

    public string? TryRead(string name)
    {
        var full = Path.GetFullPath(Path.Combine(_root, name));
        if (!full.StartsWith(_root + "/", StringComparison.Ordinal))
            throw new HardenException($"template '{name}' escapes the templates folder {_root}");
        if (!File.Exists(full)) return fallback.TryRead(name);
        var real = new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full;
        var realRoot = new DirectoryInfo(_root).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? _root;
        if (!real.StartsWith(realRoot + "/", StringComparison.Ordinal))
            throw new HardenException($"template '{name}' is a link that leaves the templates folder {_root}");
        return File.ReadAllText(full);
    }
}
