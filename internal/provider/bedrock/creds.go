package bedrock

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
)

// defaultChain is the standard AWS credential chain, in the SDK's order,
// for the sources that need no AWS service client: the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the
// shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
// ~/.aws/credentials, profile AWS_PROFILE or "default"), the container
// credentials endpoint (ECS, EKS Pod Identity) and the EC2 instance role
// (IMDSv2). Web-identity (IRSA) and SSO profiles need the STS and SSO
// service clients, which the gateway binary must not link
// (internal/deps): for those, export the temporary keys to the
// environment or configure static keys.
//
// github.com/aws/aws-sdk-go-v2/config's LoadDefaultConfig would cover
// them, but it links service/sts, service/sso and service/ssooidc.
func defaultChain(client *http.Client) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		if c, ok := envCredentials(os.Getenv); ok {
			return c, nil
		}
		if c, ok, err := sharedFileCredentials(os.Getenv); err != nil {
			return aws.Credentials{}, err
		} else if ok {
			return c, nil
		}
		if p := containerProvider(client); p != nil {
			return p.Retrieve(ctx)
		}
		if os.Getenv("AWS_EC2_METADATA_DISABLED") == "true" {
			return aws.Credentials{}, errors.New("no AWS credentials: none in the environment or the shared credentials file, and the instance metadata service is disabled")
		}
		c, err := ec2rolecreds.New().Retrieve(ctx)
		if err != nil {
			return aws.Credentials{}, errors.New("no AWS credentials found in the environment, the shared credentials file, a container endpoint or the instance role: " + err.Error())
		}
		return c, nil
	})
}

func envCredentials(getenv func(string) string) (aws.Credentials, bool) {
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" {
		id = getenv("AWS_ACCESS_KEY")
	}
	if secret == "" {
		secret = getenv("AWS_SECRET_KEY")
	}
	if id == "" || secret == "" {
		return aws.Credentials{}, false
	}
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: getenv("AWS_SESSION_TOKEN"), Source: "EnvConfigCredentials"}, true
}

// sharedFileCredentials reads static keys for the profile from the shared
// credentials file. A missing file is not an error.
func sharedFileCredentials(getenv func(string) string) (aws.Credentials, bool, error) {
	path := getenv("AWS_SHARED_CREDENTIALS_FILE")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return aws.Credentials{}, false, nil
		}
		path = filepath.Join(home, ".aws", "credentials")
	}
	f, err := os.Open(path)
	if err != nil {
		return aws.Credentials{}, false, nil
	}
	defer f.Close()
	profile := getenv("AWS_PROFILE")
	if profile == "" {
		profile = "default"
	}
	vals := parseProfile(bufio.NewScanner(f), profile)
	id, secret := vals["aws_access_key_id"], vals["aws_secret_access_key"]
	if id == "" || secret == "" {
		return aws.Credentials{}, false, nil
	}
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: vals["aws_session_token"], Source: "SharedConfigCredentials"}, true, nil
}

// parseProfile returns the key = value pairs of [profile] in an INI file.
func parseProfile(sc *bufio.Scanner, profile string) map[string]string {
	vals := map[string]string{}
	in := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && line[len(line)-1] == ']' {
			in = strings.TrimSpace(line[1:len(line)-1]) == profile
			continue
		}
		if !in {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			vals[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return vals
}

// containerProvider returns the ECS / EKS Pod Identity credentials
// endpoint provider when the environment names one.
func containerProvider(client *http.Client) aws.CredentialsProvider {
	endpoint := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if rel := os.Getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		endpoint = "http://169.254.170.2" + rel
	}
	if endpoint == "" {
		return nil
	}
	return endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
		o.HTTPClient = client
		if tok := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"); tok != "" {
			o.AuthorizationToken = tok
		}
		if file := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); file != "" {
			if b, err := os.ReadFile(file); err == nil {
				o.AuthorizationToken = strings.TrimSpace(string(b))
			}
		}
	})
}
