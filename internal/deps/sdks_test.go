package deps

// The official SDKs are test clients only (never linked into the binary,
// see TestBinaryLinksNoSDKOrTestHelper). Importing them here pins them in
// go.mod for every package's tests.
import (
	_ "github.com/anthropics/anthropic-sdk-go/v2"
	_ "github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	_ "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	_ "github.com/pkoukk/tiktoken-go"
	_ "github.com/pkoukk/tiktoken-go-loader"
	_ "google.golang.org/genai"

	// Pinned for the runtime's tools (used by non-test code as it lands).
	_ "github.com/dop251/goja"
	_ "github.com/modelcontextprotocol/go-sdk/mcp"
)
