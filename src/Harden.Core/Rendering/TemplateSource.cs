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
        // No link anywhere below the folder (a linked sub-folder would pull in any file on the host),
        // and only regular files of a sane size.
        var current = _root;
        foreach (var part in name.Split('/'))
        {
            current += "/" + part;
            var info = new FileInfo(current);
            if (info.LinkTarget is not null)
                throw new HardenException($"template '{name}': {current} is a symlink; templates are read only from real files inside {_root}");
            if (!info.Exists && !Directory.Exists(current)) return fallback.TryRead(name);
        }
        if (Directory.Exists(full)) throw new HardenException($"template '{name}' is a folder in {_root}");
        var (type, size) = Host.Native.TypeAndSize(full);
        if (type != Host.Native.RegularFile || size > 1 << 20)
            throw new HardenException($"template '{name}' in {_root} is not a regular file of at most 1 MiB");
        return File.ReadAllText(full);
    }
}
