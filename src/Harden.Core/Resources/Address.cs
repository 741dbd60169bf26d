using System.Text.Json;
using System.Text.Json.Serialization;

namespace Harden.Resources;

/// <summary>
/// What a resource is, as one string: its kind and a key unique within the kind, e.g.
/// <c>file:/etc/issue.net</c>, <c>key:/etc/login.defs#PASS_MAX_DAYS</c>, <c>member:phi-access/alice</c>.
/// Plans, journals and policies refer to resources by address, never by module.
/// </summary>
[JsonConverter(typeof(AddressJsonConverter))]
public sealed record Address(string Kind, string Key) : IComparable<Address>
{
    public override string ToString() => $"{Kind}:{Key}";

    public static Address Parse(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == text.Length - 1)
            throw new HardenException($"'{Profiles.VariableDefinition.Printable(text)}' is not a resource address (kind:key)");
        return new Address(text[..colon], text[(colon + 1)..]);
    }

    public int CompareTo(Address? other) => string.CompareOrdinal(ToString(), other?.ToString());
}

public sealed class AddressJsonConverter : JsonConverter<Address>
{
    public override Address Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String ? Address.Parse(reader.GetString()!) : throw new JsonException("an address is a string kind:key");

    public override void Write(Utf8JsonWriter writer, Address value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
