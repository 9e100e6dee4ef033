// Command toxiproxy-server is toxiproxy's server, as upstream's
// cmd/server builds it, with one more toxic: blackhole (blackhole.go),
// built against toxiproxy with the changes in patches/ (toxics that can be
// interrupted while their reader stalls: Shopify/toxiproxy#558).
//
// Flags: -host, -port, -config and -proxy-metrics as upstream's.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
)

func main() {
	host := flag.String("host", "localhost", "Host for toxiproxy's API to listen on")
	port := flag.String("port", "8474", "Port for toxiproxy's API to listen on")
	config := flag.String("config", "", "JSON file containing proxies to create on startup")
	proxyMetrics := flag.Bool("proxy-metrics", false, "enable toxiproxy-specific prometheus metrics")
	version := flag.Bool("version", false, "print the version")
	flag.Parse()
	if *version {
		fmt.Printf("toxiproxy-server version %s (edge-refarch: +blackhole, +patches)\n", toxiproxy.Version)
		return
	}

	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
	logger := zerolog.New(os.Stdout).With().Timestamp().Logger()
	if level, err := zerolog.ParseLevel(os.Getenv("LOG_LEVEL")); err == nil && level != zerolog.NoLevel {
		logger = logger.Level(level)
	}

	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), logger)
	if *proxyMetrics {
		server.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	}
	if *config != "" {
		server.PopulateConfig(*config)
	}
	go func() {
		if err := server.Listen(net.JoinHostPort(*host, *port)); err != nil {
			logger.Err(err).Msg("Server finished with error")
			os.Exit(1)
		}
	}()

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	if err := server.Shutdown(); err != nil {
		logger.Err(err).Msg("Shutdown finished with error")
	}
}
