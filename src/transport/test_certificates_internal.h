// SPDX-License-Identifier: Apache-2.0
// Test helper: certificates made at test time, so no key material lives in the tree.

#pragma once

#include <string>
#include <utility>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace otlp_arrow::transport::testing {

struct CertificateAndKey {
  std::string cert_pem;
  std::string key_pem;
};

template <typename Write>
std::string ToPem(Write write) {
  BIO* bio = BIO_new(BIO_s_mem());
  write(bio);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

/// A self-signed P-256 certificate for `common_name` and the names in `subject_alt_name`,
/// usable as its own CA, valid from an hour ago for `valid_seconds`.
inline CertificateAndKey SelfSigned(
    const char* common_name, const char* subject_alt_name = "DNS:localhost,IP:127.0.0.1",
    long valid_seconds = 24 * 3600) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), valid_seconds);
  X509_set_pubkey(cert, key);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1,
                             0);
  X509_set_issuer_name(cert, subject);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  for (const auto& [nid, value] :
       {std::pair{NID_subject_alt_name, subject_alt_name},
        std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
  }
  X509_sign(cert, key, EVP_sha256());
  CertificateAndKey out{
      ToPem([&](BIO* bio) { PEM_write_bio_X509(bio, cert); }), ToPem([&](BIO* bio) {
        PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
      })};
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace otlp_arrow::transport::testing
